/**
 * A job's page: its status, progress, where it runs (target and size) and what the target's
 * scheduler says of it, what it waits for (a login to its target, prominently, with the button
 * that opens that target's login), why it ended (an error's reason in full), the result plots, the live log, the output files to download, the parameters, the
 * earlier runs, and cancel / run again (with the same or changed parameters). Everything comes
 * from the API when the page opens (so a reload mid-run resumes) and is kept current by events.
 */
import { causeNote, staleCallout } from '../runNotes.js';
import { api, ApiError, fileUrl } from '../api.js';
import { cancelRun, startRun } from '../actions.js';
import { h, replaceChildren, setText, type Child } from '../dom.js';
import {
  agoCell,
  elapsedCell,
  formatBytes,
  formatDateTime,
  formatPercent,
  formatTime,
  needsTargetLogin,
  schedulerText,
  setAgo,
  setElapsed,
  sizeText,
  statusBadge,
  updateBadge,
} from '../format.js';
import { LogTail } from '../logTail.js';
import { phaseDurations, phaseLabel } from '../phases.js';
import { describeError, notify, notifyError } from '../notify.js';
import { ResultPlots } from '../resultPlots.js';
import { jobHref, navigate } from '../router.js';
import { RunForm } from '../runForm.js';
import { earlierRunPanel, filesText, replacesText } from '../runsView.js';
import { openTargetLogin } from '../targetLogin.js';
import { knownTargets, loadTargets, targetOf, targetTitle } from '../targets.js';
import { isActive, patchedView, type FileEntry, type JobView, type RunRequest, type Template } from '../types.js';
import { Disposer, type View, type ViewContext } from './view.js';

/** "login required: log in to X again to follow ..." as a sentence after the callout's "Login required on X." */
function loginWhy(waitingFor: string): string {
  const rest = waitingFor.replace(/^login required:\s*/i, '');
  return rest === '' ? '' : `${rest.charAt(0).toUpperCase()}${rest.slice(1)}${/[.)]$/.test(rest) ? '' : '.'}`;
}

function notFound(jobId: string): HTMLElement {
  return h(
    'section',
    { class: 'card not-found', 'data-testid': 'job-not-found' },
    h('h1', null, 'No such job'),
    h('p', null, 'There is no job with the id ', h('code', null, jobId), ' among the jobs you can see. It may belong to another user, or the link may be mistyped.'),
    h('p', null, h('a', { href: '#/jobs' }, '← Back to your jobs')),
  );
}

export function jobView(ctx: ViewContext, jobId: string): View {
  const d = new Disposer();
  const el = h('div', { class: 'page job-page' }, h('p', { class: 'muted', role: 'status' }, 'Loading the job…'));
  const view: View = { el, title: 'Job', destroy: () => d.dispose() };

  let templates: Template[] = [];
  let page: JobPage | undefined;
  let loading = false;
  let loadAgain = false;

  /** Fetches the job (with its history); one fetch at a time, another one after it if asked meanwhile. */
  async function load(): Promise<void> {
    if (loading) {
      loadAgain = true;
      return;
    }
    loading = true;
    try {
      const [j, ts] = await Promise.all([
        api.job(jobId),
        templates.length > 0 ? Promise.resolve(templates) : api.templates(),
        knownTargets() ? Promise.resolve() : loadTargets(), // for the targets' titles
      ]);
      if (d.destroyed) return;
      templates = ts;
      if (!page || page.templateName !== j.template) {
        // First load, or a new run of another template: its plots and parameters differ.
        page?.destroy();
        page = new JobPage(ctx, j, templates, d);
        replaceChildren(el, page.el);
      } else {
        page.apply(j, true);
        page.log.poke(); // lines may have been missed while the stream was down
      }
      document.title = `${j.jobKey} · jobvisor`;
    } catch (err) {
      if (d.destroyed) return;
      if (err instanceof ApiError && err.code === 'JOB_NOT_FOUND') {
        page?.destroy();
        page = undefined;
        replaceChildren(el, notFound(jobId));
        document.title = 'No such job · jobvisor';
        return;
      }
      if (page) {
        notifyError(err, 'Updating the job');
        return;
      }
      replaceChildren(
        el,
        h('section', { class: 'card' }, h('h1', null, 'The job could not be loaded'), h('p', { class: 'is-error' }, describeError(err)), h('button', { type: 'button', onclick: () => void load() }, 'Try again')),
      );
    } finally {
      loading = false;
      if (loadAgain && !d.destroyed) {
        loadAgain = false;
        void load();
      }
    }
  }

  d.add(
    ctx.events.on('job', (e) => {
      if (e.job.jobId !== jobId || !page) return;
      const shown = page.current;
      if (e.job.serial > shown.serial) void load(); // a new run: fetch its history too
      else if (e.job.serial === shown.serial) page.apply(e.job, e.job.history.length > 0); // with a history when an earlier run's files changed
    }),
  );
  d.add(
    ctx.events.on('log', (e) => {
      if (e.jobId !== jobId || !page) return;
      const shown = page.current;
      if (e.serial > shown.serial) void load();
      else if (e.serial === shown.serial) {
        page.log.poke();
        const job = patchedView(shown, e);
        if (job) page.apply(job, false);
      }
    }),
  );
  d.add(
    ctx.events.on('progress', (e) => {
      if (e.jobId !== jobId || !page) return;
      if (e.serial > page.current.serial) void load();
      const job = patchedView(page.current, e);
      if (job) page.apply(job, false);
    }),
  );
  d.add(ctx.events.on('resync', () => void load()));
  d.add(() => page?.destroy());
  void load();
  return view;
}

/** The loaded page of one job. */
class JobPage {
  readonly el: HTMLElement;
  readonly log: LogTail;
  private job: JobView;
  readonly templateName: string;
  private readonly template: Template | undefined;
  private readonly plots: ResultPlots | undefined;
  private readonly title = h('h1', { class: 'job-title' });
  private readonly badge;
  /** The run's phase beside its status ("running · finishing"), while a step runs. */
  private readonly phase = h('span', { class: 'job-phase muted', role: 'status' });
  private readonly subtitle = h('p', { class: 'muted job-subtitle' });
  /** For a stage of a pipeline: a link to the pipeline's page. */
  private readonly pipelineLink = h('p', { class: 'muted job-pipeline', hidden: true });
  private readonly progress = h('progress', { max: '1', 'data-testid': 'job-progress' });
  private readonly percent = h('span', { class: 'percent' });
  private readonly progressMessage = h('span', { class: 'progress-message muted' });
  private readonly summary = h('dl', { class: 'summary' });
  private readonly elapsed = elapsedCell(null, null);
  private readonly updated = agoCell(Date.now());
  private readonly callouts = h('div', { class: 'callouts' });
  private readonly cancelButton: HTMLButtonElement;
  private readonly againButton: HTMLButtonElement;
  private readonly changeButton: HTMLButtonElement;
  private readonly formBox = h('section', { class: 'card rerun', hidden: true, 'aria-labelledby': 'rerun-title' });
  private readonly files = h('div', { class: 'files' }, h('p', { class: 'muted' }, 'Loading the files…'));
  private readonly params = h('div', { class: 'params-view' });
  private readonly history = h('div', { class: 'history' });
  /** An earlier run's files and log, when the user opened them. */
  private readonly earlier = h('div', { class: 'earlier' });
  private filesTimer: ReturnType<typeof setTimeout> | undefined;
  private filesSeq = 0;

  constructor(
    private readonly ctx: ViewContext,
    job: JobView,
    private readonly templates: Template[],
    private readonly d: Disposer,
  ) {
    this.job = job;
    this.templateName = job.template;
    this.template = templates.find((t) => t.name === job.template);
    this.badge = statusBadge(job.status);
    this.badge.dataset.testid = 'job-status';
    this.phase.dataset.testid = 'job-phase';
    this.log = new LogTail(job.jobId, () => this.reload());
    this.plots = this.template ? new ResultPlots(this.template) : undefined;
    this.cancelButton = h('button', { type: 'button', class: 'danger', 'data-testid': 'cancel-run', onclick: () => void this.cancel() }, 'Cancel run');
    this.againButton = h('button', { type: 'button', class: 'primary', onclick: () => void this.runAgain() }, 'Run again');
    this.changeButton = h('button', { type: 'button', 'aria-expanded': 'false', onclick: () => void this.toggleForm() }, 'Change parameters and run…');
    const filesRefresh = h('button', { type: 'button', class: 'small', onclick: () => this.loadFiles() }, 'Refresh');

    this.el = h(
      'div',
      { class: 'job-layout', 'data-job-id': job.jobId },
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/jobs' }, '← Your jobs'), ctx.user.role === 'admin' ? [' · ', h('a', { href: '#/admin' }, 'Admin')] : null),
      h(
        'section',
        { class: 'card job-head', 'aria-labelledby': 'job-title' },
        h('div', { class: 'job-title-row' }, this.title, this.badge, this.phase),
        this.subtitle,
        this.pipelineLink,
        h('div', { class: 'job-progress' }, this.progress, this.percent, this.progressMessage),
        this.callouts,
        this.summary,
        h('div', { class: 'actions' }, this.cancelButton, this.againButton, this.changeButton),
      ),
      this.formBox,
      this.plots && !this.plots.empty ? this.plots.el : null,
      h('section', { class: 'card', 'aria-labelledby': 'log-title' }, h('h2', { id: 'log-title' }, 'Log'), this.log.el),
      h('section', { class: 'card', 'aria-labelledby': 'files-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'files-title' }, 'Output files'), filesRefresh), this.files),
      h('section', { class: 'card', 'aria-labelledby': 'params-title' }, h('h2', { id: 'params-title' }, 'Parameters'), this.params),
      h('section', { class: 'card', 'aria-labelledby': 'history-title' }, h('h2', { id: 'history-title' }, 'Runs'), this.history),
    );
    this.title.id = 'job-title';
    this.apply(job, true);
  }

  private placeTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Events tell a queued run's place only when it begins to wait (moving up is no event, see
   * README "Queue places in events"): while it waits in a queue, the job is asked again as
   * often as its `nextRequestMs` says, so the place shown stays true.
   */
  private followQueuePlace(job: JobView): void {
    clearTimeout(this.placeTimer);
    if (job.status !== 'pending' || job.queuePosition === null) return;
    this.placeTimer = setTimeout(() => this.reload(), job.nextRequestMs ?? 1000);
  }

  private reload(): void {
    api
      .job(this.job.jobId)
      .then((j) => this.apply(j, true))
      .catch((err: unknown) => notifyError(err, 'Updating the job'));
  }

  /** Shows the job's state; `full` when it comes from GET (with its history). */
  /** The job as shown. */
  get current(): JobView {
    return this.job;
  }

  apply(job: JobView, full: boolean): void {
    const prev = this.job;
    const newRun = prev.serial !== job.serial;
    if (job.serial < prev.serial) return; // an answer older than a newer run shown already
    if (!newRun && job.updatedAt < prev.updatedAt) {
      // An older view of this run: only its history is news.
      if (full) {
        this.job = { ...prev, history: job.history };
        this.renderHistory();
      }
      return;
    }
    this.job = full ? job : { ...job, history: prev.history };
    job = this.job;
    this.followQueuePlace(job);
    setText(this.title, job.jobKey);
    this.el.dataset.status = job.status;
    this.el.dataset.serial = String(job.serial);
    updateBadge(this.badge, job.status);
    setText(this.phase, phaseLabel(job) && `· ${phaseLabel(job)}`);
    this.phase.hidden = !phaseLabel(job);
    setText(
      this.subtitle,
      [this.template ? this.template.title : job.template, `run ${job.serial}`, job.user !== this.ctx.user.username ? `owned by ${job.user}` : ''].filter((p) => p !== '').join(' · '),
    );
    if (job.pipelineId) replaceChildren(this.pipelineLink, 'A stage of ', h('a', { href: `#/pipelines/${encodeURIComponent(job.pipelineId)}` }, `pipeline ${job.pipelineId}`));
    this.pipelineLink.hidden = !job.pipelineId;
    const p = job.progress ?? (job.status === 'completed' ? 1 : 0);
    this.progress.value = p;
    this.progress.dataset.value = String(p);
    this.progress.setAttribute('aria-label', `progress: ${Math.round(p * 100)} percent`);
    this.progress.classList.toggle('ended', !isActive(job.status));
    setText(this.percent, job.progress === null && job.status === 'pending' ? '' : formatPercent(p));
    setText(this.progressMessage, job.progressMessage ?? '');
    this.renderCallouts();
    this.renderSummary();
    this.cancelButton.hidden = !isActive(job.status);
    // A run always starts under the caller's own account: no "run again" on someone else's job.
    const mine = job.user === this.ctx.user.username;
    this.againButton.hidden = !mine;
    this.changeButton.hidden = !mine;
    this.againButton.textContent = isActive(job.status) ? 'Restart with the same parameters' : 'Run again';
    if (full || newRun) this.renderParams();
    if (full || newRun || prev.status !== job.status || prev.reason !== job.reason || prev.startedAt !== job.startedAt) this.renderHistory();
    this.log.setRun(job.serial);
    if (prev.status !== job.status || newRun || full) this.loadFiles();
    if (!isActive(job.status) && prev.status !== job.status) this.log.poke();
    this.plots?.update(job);
  }

  private renderCallouts(): void {
    const job = this.job;
    const items: Child[] = [];
    if (needsTargetLogin(job)) {
      const title = targetTitle(job.target);
      items.push(
        h(
          'div',
          { class: 'callout callout-warn callout-login', role: 'status', 'data-testid': 'login-required' },
          h('p', null, h('strong', null, `Login required on ${title}. `), loginWhy(job.waitingFor ?? '')),
          h('p', null, 'Nothing is lost: the run goes on from where it is once you have logged in again.'),
          h('button', { type: 'button', class: 'primary', onclick: () => void this.targetLogin() }, `Log in to ${title}…`),
        ),
      );
    } else if (job.status === 'pending' && job.waitingFor) {
      items.push(h('div', { class: 'callout', role: 'status' }, h('p', null, h('strong', null, 'Pending: '), job.waitingFor, job.queuePosition ? ` — number ${job.queuePosition} in the queue` : '')));
    }
    if (job.status === 'error') {
      items.push(
        h(
          'div',
          { class: 'callout callout-error', role: 'alert', 'data-testid': 'job-reason' },
          h('p', null, h('strong', null, 'The run failed.')),
          h('pre', { class: 'reason' }, job.reason ?? 'No reason was given.'),
          causeNote(job),
        ),
      );
    } else if (job.status === 'canceled' || ((job.status === 'missing' || job.status === 'purged') && job.reason)) {
      items.push(h('div', { class: 'callout callout-muted', 'data-testid': 'job-reason' }, h('p', null, h('strong', null, `${job.status === 'canceled' ? 'Canceled' : job.status}: `), h('span', { class: 'reason-inline' }, job.reason ?? 'no reason given'))));
    } else if (job.status === 'completed') {
      items.push(h('div', { class: 'callout callout-ok', role: 'status' }, h('p', null, h('strong', null, 'Completed'), job.endedAt ? ` at ${formatTime(job.endedAt)}.` : '.')));
    }
    items.push(staleCallout(job));
    replaceChildren(this.callouts, items);
  }

  private renderSummary(): void {
    const job = this.job;
    setElapsed(this.elapsed, job.startedAt, job.endedAt);
    setAgo(this.updated, job.updatedAt);
    const row = (term: string, ...def: Child[]) => [h('dt', null, term), h('dd', null, ...def)];
    replaceChildren(
      this.summary,
      row('Template', job.template),
      row('Target', targetTitle(job.target), targetTitle(job.target) !== job.target ? h('span', { class: 'muted' }, ` (${job.target})`) : null),
      row('Size', sizeText(job.size)),
      // What the run waits for, unless a callout above says it already.
      job.waitingFor && job.status !== 'pending' && !needsTargetLogin(job) ? row('Waiting for', job.waitingFor, job.queuePosition ? ` (#${job.queuePosition})` : '') : null,
      job.scheduler
        ? row('Scheduler', h('span', { 'data-testid': 'job-scheduler', class: job.scheduler.unconfirmed ? 'is-warn' : null }, schedulerText(job.externalId, job.scheduler)))
        : job.externalId
          ? row('Scheduler job', h('span', { 'data-testid': 'job-scheduler' }, job.externalId))
          : null,
      job.options && Object.keys(job.options).length > 0
        ? row('Options', Object.entries(job.options).map(([k, v], i) => [i > 0 ? ', ' : '', `${targetOf(job.target)?.options.find((o) => o.name === k)?.label ?? k} ${String(v)}`]))
        : null,
      row('Queued', formatDateTime(job.queuedAt)),
      row('Started', formatDateTime(job.startedAt)),
      job.endedAt ? row('Ended', formatDateTime(job.endedAt)) : null,
      row(isActive(job.status) ? 'Running for' : 'Ran for', this.elapsed),
      phaseDurations(job) ? row('Phases', h('span', { 'data-testid': 'job-phases' }, phaseDurations(job))) : null,
      job.inputs && job.inputs.length > 0
        ? row(
            'Input files',
            h('span', { 'data-testid': 'job-inputs' }, job.inputs.map((f, i) => [i > 0 ? ', ' : '', h('a', { href: fileUrl(job.jobId, `inputs/${f.fileName}`), download: f.fileName }, f.fileName), ` (${formatBytes(f.size)})`])),
          )
        : null,
      row('Log lines', String(job.logLines)),
      row('Last update', this.updated),
      row('Job id', h('code', null, job.jobId)),
    );
  }

  private renderParams(): void {
    const job = this.job;
    const specs = this.template?.parameters ?? {};
    const names = [...new Set([...Object.keys(specs), ...Object.keys(job.parameters)])].filter((n) => n in job.parameters);
    if (names.length === 0) {
      replaceChildren(this.params, h('p', { class: 'muted' }, 'No parameters.'));
      return;
    }
    replaceChildren(
      this.params,
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Parameters' },
        h(
          'table',
          { class: 'kv-table' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Parameter'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Name'))),
          h(
            'tbody',
            null,
            names.map((n) => {
              const spec = specs[n];
              const units = spec && (spec.type === 'number' || spec.type === 'integer') && spec.units ? ` ${spec.units}` : '';
              const value = job.parameters[n];
              const isDefault = spec !== undefined && spec.default === value;
              return h(
                'tr',
                null,
                h('td', null, spec?.label ?? n),
                h('td', { class: 'num' }, `${typeof value === 'object' ? JSON.stringify(value) : String(value)}${units}`, isDefault ? h('span', { class: 'muted' }, ' (default)') : null),
                h('td', null, h('code', null, n)),
              );
            }),
          ),
        ),
      ),
    );
  }

  private renderHistory(): void {
    const job = this.job;
    const runs = [job, ...job.history];
    replaceChildren(
      this.history,
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Runs of this job' },
        h(
          'table',
          { class: 'history-table' },
          h(
            'thead',
            null,
            h('tr', null, ['Run', 'Status', 'Template', 'Target', 'Size', 'Queued', 'Ran for', 'Outcome', 'Files'].map((t) => h('th', { scope: 'col' }, t))),
          ),
          h(
            'tbody',
            null,
            runs.map((r, i) =>
              h(
                'tr',
                { 'data-serial': String(r.serial) },
                h('td', { class: 'num' }, String(r.serial), i === 0 ? h('span', { class: 'muted' }, ' (current)') : null),
                h('td', null, statusBadge(r.status)),
                h('td', null, r.template),
                h('td', null, targetTitle(r.target)),
                h('td', null, sizeText(r.size)),
                h('td', null, formatDateTime(r.queuedAt)),
                h('td', { class: 'num' }, i === 0 ? elapsedCell(r.startedAt, r.endedAt) : r.startedAt ? elapsedCell(r.startedAt, r.endedAt ?? r.startedAt) : '—'),
                h('td', { class: 'outcome' }, r.reason ? h('pre', { class: 'reason small' }, r.reason) : i === 0 && isActive(r.status) ? 'in progress' : r.status === 'completed' ? 'completed' : '—'),
                h(
                  'td',
                  { class: 'run-files' },
                  filesText(r),
                  i > 0 && (r.files === 'kept' || r.files === 'archived')
                    ? [' ', h('button', { type: 'button', class: 'small', 'data-testid': 'earlier-run-open', onclick: () => replaceChildren(this.earlier, earlierRunPanel(job.jobId, r.serial, () => replaceChildren(this.earlier))) }, 'Files and log')]
                    : null,
                ),
              ),
            ),
          ),
        ),
      ),
      job.history.length === 0 ? h('p', { class: 'muted' }, 'This is the first run of this job.') : null,
      this.earlier,
    );
  }

  /** Reads the file list again (after a short pause, so bursts of changes ask once). */
  loadFiles(): void {
    clearTimeout(this.filesTimer);
    this.filesTimer = setTimeout(() => void this.fetchFiles(), 150);
  }

  private async fetchFiles(): Promise<void> {
    const seq = ++this.filesSeq;
    const job = this.job;
    if (job.startedAt === null && isActive(job.status)) {
      replaceChildren(this.files, h('p', { class: 'muted' }, 'The files appear once the run has started.'));
      return;
    }
    try {
      const list = await api.files(job.jobId);
      if (this.d.destroyed || seq !== this.filesSeq) return;
      const results = list.files.filter((f) => f.result);
      const others = list.files.filter((f) => !f.result);
      const table = (files: FileEntry[], label: string) =>
        h(
          'div',
          { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': label },
          h(
            'table',
            { class: 'files-table' },
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'File'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col' }, 'Changed'))),
            h(
              'tbody',
              null,
              files.map((f) =>
                h(
                  'tr',
                  { 'data-path': f.path },
                  h('td', null, h('a', { href: fileUrl(job.jobId, f.path), download: f.path.split('/').pop() ?? f.path, class: 'file-link' }, f.path)),
                  h('td', { class: 'num' }, formatBytes(f.size)),
                  h('td', null, formatTime(f.mtimeMs)),
                ),
              ),
            ),
          ),
        );
      replaceChildren(
        this.files,
        list.files.length === 0 ? h('p', { class: 'muted' }, 'No files yet.') : null,
        results.length > 0 ? [h('h3', null, 'Results'), table(results, 'Result files')] : null,
        others.length > 0
          ? h('details', { open: results.length === 0 ? true : null }, h('summary', null, `Other files of the run (${others.length})`), table(others, 'Other files'))
          : null,
        list.truncated ? h('p', { class: 'muted' }, 'The run has more files than can be listed.') : null,
        h('p', { class: 'hint' }, `Files of run ${list.serial} (the current run).`),
      );
    } catch (err) {
      if (this.d.destroyed || seq !== this.filesSeq) return;
      replaceChildren(this.files, h('p', { class: 'is-error' }, `Could not list the files: ${describeError(err)}`));
    }
  }

  private async cancel(): Promise<void> {
    const j = await cancelRun(this.job, this.cancelButton);
    if (j && !this.d.destroyed) this.apply({ ...j, history: j.history.length > 0 ? j.history : this.job.history }, j.history.length > 0);
  }

  private async runAgain(): Promise<void> {
    const job = this.job;
    if (isActive(job.status) && !window.confirm(`Run ${job.jobKey} again? Its current run (${job.status}) is canceled first.`)) return;
    this.againButton.disabled = true;
    try {
      const body: RunRequest = { template: job.template, parameters: job.parameters, target: job.target, size: job.size, jobKey: job.jobKey };
      if (job.options && Object.keys(job.options).length > 0) body.options = job.options;
      const j = await startRun(body);
      if (!this.d.destroyed) this.apply(j, true);
      notify(`Started run ${j.serial} of ${j.jobKey}.`, { kind: 'success', timeoutMs: 6000 });
    } catch (err) {
      notifyError(err, `Running ${job.jobKey} again`);
    } finally {
      this.againButton.disabled = false;
    }
  }

  private async toggleForm(): Promise<void> {
    if (!this.formBox.hidden) {
      this.closeForm();
      return;
    }
    const job = this.job;
    const targets = await loadTargets();
    const keepRuns = this.templates.find((t) => t.name === job.template)?.keepRuns;
    const form = new RunForm({
      templates: this.templates,
      targets,
      initial: { template: job.template, parameters: job.parameters, target: job.target, size: job.size, options: job.options, jobKey: job.jobKey },
      ...(keepRuns !== undefined ? { replaces: { jobKey: job.jobKey, text: replacesText(job, keepRuns) } } : {}),
      submitLabel: isActive(job.status) ? 'Cancel the current run and run this' : 'Run',
      onCancel: () => this.closeForm(),
      onRan: (j) => {
        this.closeForm();
        if (j.jobId === this.job.jobId && j.template === this.templateName) {
          this.apply(j, true);
          notify(`Started run ${j.serial} of ${j.jobKey}.`, { kind: 'success', timeoutMs: 6000 });
        } else navigate(jobHref(j.jobId));
      },
    });
    replaceChildren(this.formBox, h('h2', { id: 'rerun-title' }, 'Run again with changed parameters'), form.el);
    this.formBox.hidden = false;
    this.changeButton.setAttribute('aria-expanded', 'true');
    this.formBox.scrollIntoView({ block: 'start', behavior: 'smooth' });
    form.el.querySelector<HTMLElement>('input, select')?.focus({ preventScroll: true });
  }

  private closeForm(): void {
    this.formBox.hidden = true;
    replaceChildren(this.formBox);
    this.changeButton.setAttribute('aria-expanded', 'false');
    this.changeButton.focus();
  }

  private async targetLogin(): Promise<void> {
    const target = this.job.target;
    const title = targetTitle(target);
    if (await openTargetLogin(target, `Your runs on ${title} wait for you to log in again; they go on from where they were.`)) {
      notify(`Logged in to ${title}.`, { kind: 'success', timeoutMs: 6000 });
      this.reload();
    }
  }

  destroy(): void {
    clearTimeout(this.filesTimer);
    clearTimeout(this.placeTimer);
    this.log.destroy();
    this.plots?.destroy();
  }
}
