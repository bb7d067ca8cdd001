/**
 * The jobs page: the new-run form and the user's jobs, kept current by the event stream (no
 * polling): the list is fetched once, events update it, and it is fetched again on resync.
 */
import { emailSettingsSection } from './emailSettings.js';
import { api } from '../api.js';
import { myUsageLine } from '../runsView.js';
import { cancelRun } from '../actions.js';
import { h, replaceChildren } from '../dom.js';
import { JobTable } from '../jobTable.js';
import { describeError } from '../notify.js';
import { RunForm } from '../runForm.js';
import { openBatchDialog } from '../batchDialog.js';
import { loadTargets } from '../targets.js';
import type { JobView } from '../types.js';
import { Disposer, type View, type ViewContext } from './view.js';

export function jobsView(ctx: ViewContext): View {
  const d = new Disposer();
  const table = new JobTable({
    caption: 'Your jobs',
    emptyText: 'You have no jobs yet. Start one with the form.',
    onCancel: (job, button) => {
      void cancelRun(job, button).then((j) => j && table.upsert(j));
    },
  });
  const tableStatus = h('p', { class: 'muted', role: 'status' }, 'Loading your jobs…');
  const formBox = h('div', { class: 'form-box' }, h('p', { class: 'muted' }, 'Loading the job templates…'));

  const el = h(
    'div',
    { class: 'page jobs-page' },
    h('section', { class: 'card', 'aria-labelledby': 'jobs-title' }, h(
        'div',
        { class: 'card-head' },
        h('h1', { id: 'jobs-title' }, 'Your jobs'),
        h(
          'div',
          { class: 'card-head-actions' },
          h(
            'a',
            {
              href: '#new-run-title',
              class: 'new-run-link',
              onclick: (e: Event) => {
                e.preventDefault();
                const select = el.querySelector<HTMLElement>('.run-form select');
                select?.scrollIntoView({ block: 'center', behavior: 'smooth' });
                select?.focus({ preventScroll: true });
              },
            },
            'New run ↓',
          ),
          h('button', { type: 'button', class: 'small', 'data-testid': 'batch-open', onclick: () => openBatchDialog(() => void loadJobs()) }, 'Submit a batch…'),
        ),
      ), tableStatus, myUsageLine(), table.el),
    h('section', { class: 'card', 'aria-labelledby': 'new-run-title' }, h('h2', { id: 'new-run-title' }, 'New run'), formBox),
    emailSettingsSection(d),
  );

  let loadSeq = 0;
  async function loadJobs(): Promise<void> {
    const seq = ++loadSeq;
    table.beginFetch();
    try {
      const page = await api.jobs();
      if (d.destroyed || seq !== loadSeq) return;
      table.setJobs(page.jobs);
      moreAfter(page.nextCursor, seq);
      tableStatus.hidden = true;
    } catch (err) {
      if (d.destroyed) return;
      tableStatus.hidden = false;
      replaceChildren(tableStatus, h('span', { class: 'is-error' }, `Could not load your jobs: ${describeError(err)} `), h('button', { type: 'button', class: 'small', onclick: () => void loadJobs() }, 'Try again'));
    }
  }

  /** The "Show more jobs" button of the table: the page after `cursor` (none: the last page is shown). */
  function moreAfter(cursor: string | undefined, seq: number): void {
    table.setMore(
      cursor === undefined
        ? null
        : async () => {
            try {
              const page = await api.jobs({ cursor });
              if (d.destroyed || seq !== loadSeq) return;
              table.addJobs(page.jobs);
              moreAfter(page.nextCursor, seq);
            } catch (err) {
              if (d.destroyed) return;
              tableStatus.hidden = false;
              replaceChildren(tableStatus, h('span', { class: 'is-error' }, `Could not load more jobs: ${describeError(err)}`));
            }
          },
    );
  }

  async function loadForm(jobsLoaded: Promise<void>): Promise<void> {
    try {
      const [templates, targets] = await Promise.all([api.templates(), loadTargets(), jobsLoaded]);
      if (d.destroyed) return;
      table.refresh(); // the targets' titles are known now
      // Start from the template the user ran last (with its defaults).
      const last = [...table.jobs()].sort((a, b) => b.queuedAt - a.queuedAt)[0];
      const form = new RunForm({
        templates,
        targets,
        initial: last && templates.some((t) => t.name === last.template) ? { template: last.template } : undefined,
        // The form says next to its Run button that the run started (with a link to it); the table shows its row.
        onRan: (job: JobView) => {
          table.upsert(job);
          table.el.querySelector<HTMLElement>(`tr[data-job-id="${CSS.escape(job.jobId)}"]`)?.classList.add('flash');
        },
      });
      replaceChildren(formBox, form.el);
    } catch (err) {
      if (d.destroyed) return;
      replaceChildren(formBox, h('p', { class: 'is-error' }, `Could not load the job templates: ${describeError(err)} `), h('button', { type: 'button', class: 'small', onclick: () => void loadForm(Promise.resolve()) }, 'Try again'));
    }
  }

  // Admins get everyone's events; this page lists the user's own jobs.
  d.add(ctx.events.on('job', (e) => e.job.user === ctx.user.username && table.upsert(e.job)));
  d.add(ctx.events.on('progress', (e) => table.patch(e)));
  d.add(ctx.events.on('log', (e) => table.patch(e)));
  d.add(ctx.events.on('resync', () => void loadJobs()));
  void loadForm(loadJobs());
  return { el, title: 'Jobs', destroy: () => d.dispose() };
}
