/**
 * The pipelines pages: the list of the user's pipelines (admins: everyone's), and a pipeline's
 * page with its stages in order (each with what it waits for, its state, progress and times, and
 * a link to its job), with Cancel and Resume. Both follow `pipeline` events, and a stage's
 * progress from its job's events.
 */
import { api } from '../api.js';
import { describeError, notify } from '../notify.js';
import { PipelineForm } from '../pipelineForm.js';
import { navigate } from '../router.js';
import { loadTargets } from '../targets.js';
import { h, replaceChildren, setText } from '../dom.js';
import { elapsedCell, formatPercent, formatTime } from '../format.js';
import { pipelineApi, pipelineHref, stateBadge, type PipelineView, type StageView } from '../pipelines.js';
import { jobHref } from '../router.js';
import { Disposer, type View, type ViewContext } from './view.js';

export function pipelinesView(ctx: ViewContext): View {
  const d = new Disposer();
  const admin = ctx.user.role === 'admin';
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading pipelines…');
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'pipelines-table', 'data-testid': 'pipelines' },
    h('caption', { class: 'visually-hidden' }, admin ? 'All pipelines' : 'Your pipelines'),
    h('thead', null, h('tr', null, h('th', null, 'Pipeline'), admin ? h('th', null, 'User') : null, h('th', null, 'State'), h('th', null, 'Stages'), h('th', null, 'Created'))),
    body,
  );
  const newButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'new-pipeline' }, 'New pipeline');
  const formCard = h('section', { class: 'card', 'aria-labelledby': 'new-pipeline-title', hidden: true }, h('h2', { id: 'new-pipeline-title' }, 'New pipeline'));
  newButton.addEventListener('click', () => void openForm(d, formCard, newButton));
  // Scrolls inside its frame on a narrow window; shown once there is a row.
  const tableWrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': admin ? 'All pipelines' : 'Your pipelines', hidden: true }, table);
  // The list comes a page at a time (newest first); this asks for the next one.
  const more = h('button', { type: 'button', class: 'small', 'data-testid': 'more-pipelines', hidden: true }, 'Show more pipelines');
  const el = h(
    'div',
    { class: 'page pipelines-page' },
    h(
      'section',
      { class: 'card' },
      h('h1', null, admin ? 'Pipelines' : 'Your pipelines'),
      h('div', { class: 'card-head' }, h('p', { class: 'muted' }, 'A pipeline runs templates as stages in order, passing files from stage to stage.'), newButton),
      status,
      tableWrap,
      more,
    ),
    formCard,
  );
  const row = (p: PipelineView) =>
    h(
      'tr',
      { 'data-pipeline-id': p.pipelineId },
      h('td', null, h('a', { href: pipelineHref(p.pipelineId) }, p.name)),
      admin ? h('td', null, p.user) : null,
      h('td', null, stateBadge(p.state)),
      h('td', null, `${p.stages.filter((s) => s.state === 'completed').length}/${p.stages.length} completed`),
      h('td', null, formatTime(p.createdAt)),
    );
  let shown: PipelineView[] = [];
  /** Where the next page starts (undefined: the last page is shown). */
  let cursor: string | undefined;
  /** Counts the loads, so that an older answer arriving late is dropped. */
  let loadSeq = 0;
  const render = () => {
    replaceChildren(body, ...shown.map(row));
    status.hidden = shown.length > 0;
    tableWrap.hidden = shown.length === 0;
    more.hidden = cursor === undefined;
    if (shown.length === 0) setText(status, 'No pipelines yet.');
  };
  async function load(): Promise<void> {
    const seq = ++loadSeq;
    try {
      const page = await pipelineApi.page(admin);
      if (d.destroyed || seq !== loadSeq) return;
      shown = page.pipelines;
      cursor = page.nextCursor;
      render();
    } catch (err) {
      if (!d.destroyed) setText(status, `Could not load the pipelines: ${describeError(err)}`);
    }
  }
  more.addEventListener('click', () => {
    const seq = loadSeq;
    more.disabled = true;
    pipelineApi
      .page(admin, cursor)
      .then((page) => {
        if (d.destroyed || seq !== loadSeq) return;
        // A pipeline an event already put on the page is not listed twice.
        const have = new Set(shown.map((p) => p.pipelineId));
        shown = [...shown, ...page.pipelines.filter((p) => !have.has(p.pipelineId))];
        cursor = page.nextCursor;
        render();
      })
      .catch((err: unknown) => notify(`Could not load more pipelines: ${describeError(err)}`, { kind: 'error' }))
      .finally(() => (more.disabled = false));
  });
  d.add(
    ctx.events.on('pipeline', (e) => {
      const i = shown.findIndex((p) => p.pipelineId === e.pipelineId);
      if (e.pipeline === null) shown = shown.filter((p) => p.pipelineId !== e.pipelineId);
      else if (i >= 0) shown[i] = e.pipeline;
      else shown.unshift(e.pipeline);
      render();
    }),
  );
  d.add(ctx.events.on('resync', () => void load()));
  void load();
  return { el, title: 'Pipelines', destroy: () => d.dispose() };
}

/** Shows the new-pipeline form (templates and targets read first); after create, the pipeline's page. */
async function openForm(d: Disposer, card: HTMLElement, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  card.hidden = false;
  const title = card.firstElementChild;
  replaceChildren(card, title, h('p', { class: 'muted' }, 'Loading the templates…'));
  try {
    const [templates, targets] = await Promise.all([api.templates(), loadTargets()]);
    if (d.destroyed) return;
    const close = () => {
      card.hidden = true;
      button.disabled = false;
      replaceChildren(card, title);
    };
    const form = new PipelineForm({ templates, targets, onCancel: close, onCreated: (p) => navigate(pipelineHref(p.pipelineId)) });
    replaceChildren(card, title, form.el);
    card.scrollIntoView({ block: 'start' });
  } catch (err) {
    button.disabled = false;
    replaceChildren(card, title, h('p', { class: 'is-error' }, `The templates could not be loaded: ${describeError(err)}`));
  }
}

function stageItem(s: StageView): HTMLElement {
  const p = s.progress ?? 0;
  return h(
    'li',
    { class: `stage stage-${s.state}`, 'data-stage': s.name, 'data-state': s.state },
    h(
      'div',
      { class: 'stage-head' },
      h('strong', { class: 'stage-name' }, s.name),
      ' ',
      stateBadge(s.state),
      ' ',
      h('span', { class: 'muted' }, s.template),
      s.dependsOn.length ? h('span', { class: 'muted stage-deps' }, ` · after ${s.dependsOn.join(', ')}`) : null,
    ),
    h(
      'div',
      { class: 'progress-cell' },
      h('progress', { max: '1', value: String(p), 'aria-label': `progress of stage ${s.name}: ${Math.round(p * 100)} percent` }),
      h('span', { class: 'stage-percent' }, s.progress === null ? '' : formatPercent(p)),
      s.progressMessage ? h('span', { class: 'muted' }, ` ${s.progressMessage}`) : null,
    ),
    h(
      'div',
      { class: 'muted stage-times' },
      `queued ${formatTime(s.queuedAt)} · started ${formatTime(s.startedAt)} · ended ${formatTime(s.endedAt)} · `,
      s.startedAt !== null ? elapsedCell(s.startedAt, s.endedAt) : '—',
      s.attempts > 1 ? ` · attempt ${s.attempts}` : '',
    ),
    s.reason ? h('p', { class: 'stage-reason is-error' }, s.reason) : null,
    s.jobId ? h('a', { class: 'stage-job', href: jobHref(s.jobId) }, `Job ${s.jobId} (run ${String(s.serial)}) →`) : null,
  );
}

export function pipelineView(ctx: ViewContext, pipelineId: string): View {
  const d = new Disposer();
  const title = h('h1', null, 'Pipeline');
  const badge = h('span');
  const summary = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const reason = h('p', { class: 'is-error pipeline-reason' });
  const stages = h('ol', { class: 'stages', 'data-testid': 'stages' });
  const cancel = h('button', { type: 'button', class: 'danger-outline', hidden: true }, 'Cancel pipeline');
  const resume = h('button', { type: 'button', class: 'primary', hidden: true }, 'Resume');
  const el = h(
    'div',
    { class: 'page pipeline-page' },
    h(
      'section',
      { class: 'card' },
      h('p', null, h('a', { href: '#/pipelines' }, '← Pipelines')),
      h('div', { class: 'job-title-row' }, title, badge),
      summary,
      reason,
      h('div', { class: 'actions' }, cancel, resume),
      h('h2', null, 'Stages'),
      stages,
    ),
  );
  let current: PipelineView | undefined;
  const render = (p: PipelineView) => {
    current = p;
    setText(title, p.name);
    replaceChildren(badge, stateBadge(p.state));
    setText(summary, `${p.stages.filter((s) => s.state === 'completed').length} of ${p.stages.length} stages completed · created ${formatTime(p.createdAt)}${p.endedAt ? ` · ended ${formatTime(p.endedAt)}` : ''} · ${p.user}`);
    setText(reason, p.reason ?? '');
    reason.hidden = !p.reason;
    cancel.hidden = p.state !== 'running';
    resume.hidden = p.state !== 'failed' && p.state !== 'canceled';
    replaceChildren(stages, ...p.stages.map(stageItem));
  };
  async function load(): Promise<void> {
    try {
      const p = await pipelineApi.get(pipelineId);
      if (!d.destroyed) render(p);
    } catch (err) {
      if (!d.destroyed) setText(summary, `Could not load pipeline ${pipelineId}: ${describeError(err)}`);
    }
  }
  const act = (button: HTMLButtonElement, what: string, fn: () => Promise<PipelineView>) => {
    button.addEventListener('click', () => {
      button.disabled = true;
      fn()
        .then((p) => !d.destroyed && render(p))
        .catch((err: unknown) => notify(`${what}: ${describeError(err)}`, { kind: 'error' }))
        .finally(() => (button.disabled = false));
    });
  };
  act(cancel, 'Cancel', () => pipelineApi.cancel(pipelineId));
  act(resume, 'Resume', () => pipelineApi.resume(pipelineId));
  d.add(
    ctx.events.on('pipeline', (e) => {
      if (e.pipelineId !== pipelineId) return;
      if (e.pipeline) render(e.pipeline);
      else setText(summary, 'This pipeline was deleted.');
    }),
  );
  // A stage's state and progress come with its job's events (`progress` when only that changed).
  let pending: ReturnType<typeof setTimeout> | undefined;
  const stageChanged = (jobId: string) => {
    if (!current?.stages.some((s) => s.jobId === jobId) || pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      void load();
    }, 500);
  };
  d.add(ctx.events.on('job', (e) => stageChanged(e.job.jobId)));
  d.add(ctx.events.on('progress', (e) => stageChanged(e.jobId)));
  d.add(() => clearTimeout(pending));
  d.add(ctx.events.on('resync', () => void load()));
  void load();
  return { el, title: 'Pipeline', destroy: () => d.dispose() };
}
