/**
 * The table of jobs, on the jobs page (one user's) and the admin page (everyone's). Rows are
 * updated in place from job events (so focus and scroll stay put), newest run first. Each row
 * shows the job key (a link to its page), template, status badge, target (its title) and size,
 * what the run waits for or does, a progress bar, the elapsed time (ticking while it runs) and when it
 * last changed.
 */
import { h, setText } from './dom.js';
import { phaseLabel } from './phases.js';
import { agoCell, elapsedCell, formatPercent, jobActivity, setAgo, setElapsed, sizeText, statusBadge, updateBadge } from './format.js';
import { jobHref, navigate } from './router.js';
import { targetTitle } from './targets.js';
import { isActive, patchedView, type JobView, type LogEventData, type ProgressEventData } from './types.js';

export interface JobTableOptions {
  showUser?: boolean;
  /** Shows a Cancel button on active runs. */
  onCancel?: (job: JobView, button: HTMLButtonElement) => void;
  emptyText: string;
  caption: string;
}

class JobRow {
  readonly el: HTMLTableRowElement;
  job: JobView;
  private readonly link: HTMLAnchorElement;
  private readonly serial = h('span', { class: 'serial muted' });
  private readonly template = h('td', { class: 'col-template' });
  private readonly badge: HTMLSpanElement;
  private readonly place = h('td', { class: 'col-target' });
  private readonly activity = h('span', { class: 'activity' });
  private readonly progress = h('progress', { max: '1' });
  private readonly percent = h('span', { class: 'percent' });
  private readonly elapsed: HTMLSpanElement;
  private readonly updated: HTMLTimeElement;
  private readonly cancel: HTMLButtonElement | undefined;

  constructor(job: JobView, opts: JobTableOptions) {
    this.job = job;
    this.link = h('a', { href: jobHref(job.jobId), class: 'job-link' }, job.jobKey);
    this.badge = statusBadge(job.status);
    this.elapsed = elapsedCell(job.startedAt, job.endedAt);
    this.updated = agoCell(job.updatedAt);
    this.cancel = opts.onCancel
      ? h('button', { type: 'button', class: 'small danger-outline', 'aria-label': `Cancel ${job.jobKey}` }, 'Cancel')
      : undefined;
    if (this.cancel && opts.onCancel) {
      const onCancel = opts.onCancel;
      const button = this.cancel;
      button.addEventListener('click', (e) => {
        e.stopPropagation();
        onCancel(this.job, button);
      });
    }
    this.el = h(
      'tr',
      { class: 'job-row', 'data-job-id': job.jobId },
      h('td', { class: 'col-key' }, this.link, this.serial, job.scheduleName ? h('a', { class: 'job-schedule muted', href: '#/schedules', title: 'made by this schedule', 'data-testid': 'job-schedule' }, ` ⏲ ${job.scheduleName}`) : null),
      opts.showUser ? h('td', { class: 'col-user' }, job.user) : null,
      this.template,
      h('td', { class: 'col-status' }, this.badge),
      this.place,
      h('td', { class: 'col-activity' }, this.activity),
      h('td', { class: 'col-progress' }, h('div', { class: 'progress-cell' }, this.progress, this.percent)),
      h('td', { class: 'col-elapsed num' }, this.elapsed),
      h('td', { class: 'col-updated' }, this.updated),
      opts.onCancel ? h('td', { class: 'col-actions' }, this.cancel) : null,
    );
    // The whole row opens the job (the link inside is the keyboard way).
    this.el.addEventListener('click', (e) => {
      const target = e.target as HTMLElement;
      if (target.closest('a, button, input, select')) return;
      if (window.getSelection()?.toString()) return; // selecting text is not a click
      navigate(jobHref(this.job.jobId));
    });
    this.update(job);
  }

  update(job: JobView): void {
    this.job = job;
    this.el.dataset.status = job.status;
    this.el.dataset.serial = String(job.serial);
    setText(this.link, job.jobKey);
    setText(this.serial, job.serial > 1 ? ` run ${job.serial}` : '');
    setText(this.template, job.template);
    updateBadge(this.badge, job.status);
    setText(this.place, `${targetTitle(job.target)} · ${sizeText(job.size)}`);
    this.place.title = `target ${job.target} (${job.driver}), ${job.size}`;
    // A run with steps says which one runs (preprocess, postprocess) instead of the command's last message.
    const activity = (job.waitingFor ? '' : phaseLabel(job)) || jobActivity(job);
    setText(this.activity, activity);
    this.activity.title = job.reason ?? job.waitingFor ?? job.progressMessage ?? '';
    this.activity.classList.toggle('is-error', job.status === 'error');
    const p = job.progress ?? (job.status === 'completed' ? 1 : 0);
    this.progress.value = p;
    this.progress.dataset.value = String(p);
    this.progress.setAttribute('aria-label', `progress of ${job.jobKey}: ${Math.round(p * 100)} percent`);
    this.progress.classList.toggle('ended', !isActive(job.status));
    setText(this.percent, job.progress === null && job.status === 'pending' ? '' : formatPercent(p));
    setElapsed(this.elapsed, job.startedAt, job.endedAt);
    setAgo(this.updated, job.updatedAt);
    if (this.cancel) {
      this.cancel.hidden = !isActive(job.status);
      if (!isActive(job.status)) this.cancel.disabled = false;
    }
  }
}

export class JobTable {
  readonly el: HTMLElement;
  private readonly tbody = h('tbody');
  private readonly rows = new Map<string, JobRow>();
  private readonly touched = new Set<string>();
  private readonly empty: HTMLParagraphElement;
  private readonly count = h('p', { class: 'table-count muted' });
  /** "Show more jobs": the next page of the list, when there is one (setMore). */
  private readonly more = h('button', { type: 'button', class: 'small more-jobs', 'data-testid': 'jobs-more', hidden: true }, 'Show more jobs');
  private onMore: (() => Promise<void>) | null = null;
  private filter: (job: JobView) => boolean = () => true;
  private readonly wrap: HTMLElement;
  /** Whether the list has been fetched once (until then "no jobs" would not be true). */
  private loaded = false;

  constructor(private readonly opts: JobTableOptions) {
    const th = (text: string, cls = '') => h('th', { scope: 'col', class: cls || null }, text);
    const table = h(
      'table',
      { class: 'jobs-table' },
      h('caption', { class: 'visually-hidden' }, opts.caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          th('Job'),
          opts.showUser ? th('User') : null,
          th('Template'),
          th('Status'),
          th('Target · size'),
          th('Waiting for / doing'),
          th('Progress'),
          th('Elapsed', 'num'),
          th('Updated'),
          opts.onCancel ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null,
        ),
      ),
      this.tbody,
    );
    this.empty = h('p', { class: 'empty muted' }, opts.emptyText);
    this.wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.caption }, table);
    this.el = h('div', { class: 'job-table' }, this.wrap, this.empty, this.count, this.more);
    this.more.addEventListener('click', () => {
      const load = this.onMore;
      if (!load) return;
      this.more.disabled = true;
      void load().finally(() => (this.more.disabled = false));
    });
    this.render();
  }

  /** Call before fetching the list: jobs that events bring meanwhile are kept by setJobs. */
  beginFetch(): void {
    this.touched.clear();
  }

  /** Replaces every row (after fetching the list). */
  setJobs(jobs: JobView[]): void {
    this.loaded = true;
    const seen = new Set<string>(this.touched);
    for (const job of jobs) {
      seen.add(job.jobId);
      this.put(job);
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }
    this.render();
  }

  /** Adds the jobs of a further page (keeps every row shown). */
  addJobs(jobs: JobView[]): void {
    for (const job of jobs) this.put(job);
    this.render();
  }

  /** Shows the "Show more jobs" button, which calls `load` (the next page), or hides it (null: the last page is shown). */
  setMore(load: (() => Promise<void>) | null): void {
    this.onMore = load;
    this.more.hidden = load === null;
  }

  /** Adds or updates one job (from an event or an answer); an older view than the shown one is ignored. */
  upsert(job: JobView): void {
    this.touched.add(job.jobId);
    this.put(job);
    this.render();
  }

  /** Shows what a `log` or `progress` event tells of a job shown (nothing if it is not shown). */
  patch(e: LogEventData | ProgressEventData): void {
    const row = this.rows.get(e.jobId);
    const job = row && patchedView(row.job, e);
    if (job) this.upsert(job);
  }

  jobs(): JobView[] {
    return [...this.rows.values()].map((r) => r.job);
  }

  /** Shows every row again (after the targets' titles became known). */
  refresh(): void {
    for (const row of this.rows.values()) row.update(row.job);
  }

  setFilter(filter: (job: JobView) => boolean): void {
    this.filter = filter;
    this.render();
  }

  private put(job: JobView): void {
    const row = this.rows.get(job.jobId);
    if (!row) {
      this.rows.set(job.jobId, new JobRow(job, this.opts));
      return;
    }
    const old = row.job;
    if (job.serial < old.serial || (job.serial === old.serial && job.updatedAt < old.updatedAt)) return;
    row.update(job);
  }

  /** Puts the rows in order (newest run first) and applies the filter, moving only what must move. */
  private render(): void {
    const ordered = [...this.rows.values()].sort((a, b) => b.job.queuedAt - a.job.queuedAt || a.job.jobKey.localeCompare(b.job.jobKey));
    let shown = 0;
    let prev: HTMLTableRowElement | null = null;
    for (const row of ordered) {
      const visible = this.filter(row.job);
      row.el.hidden = !visible;
      if (visible) shown += 1;
      const want: ChildNode | null = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== row.el) this.tbody.insertBefore(row.el, want);
      prev = row.el;
    }
    this.wrap.hidden = shown === 0;
    this.empty.hidden = shown > 0 || !this.loaded;
    if (this.rows.size > 0 && shown === 0) setText(this.empty, 'No job matches the filters.');
    else setText(this.empty, this.opts.emptyText);
    setText(this.count, this.rows.size === 0 ? '' : shown === this.rows.size ? `${shown} job${shown === 1 ? '' : 's'}` : `showing ${shown} of ${this.rows.size} jobs`);
  }
}
