/**
 * The schedules page: the user's schedules (admins: everyone's, with a switch) with their next
 * firings, last firing and state, each with pause/resume, edit and delete; and the form that
 * makes or edits one: a template and its parameters (the run form's ParameterForm), an interval
 * or a cron expression in a time zone, the policy for missed firings, and an optional window.
 * The list is fetched again every few seconds (schedules fire on their own).
 */
import { api, ApiError } from '../api.js';
import { h, replaceChildren, setText, uid } from '../dom.js';
import { formatDateTime } from '../format.js';
import { ParameterForm } from '../form.js';
import { describeError, notify } from '../notify.js';
import { jobHref } from '../router.js';
import type { Issue, ScheduleInput, ScheduleView, Template } from '../types.js';
import { Disposer, type View, type ViewContext } from './view.js';

const REFRESH_MS = 3000;

function whenText(s: ScheduleView): string {
  return s.cron !== null ? `cron ${s.cron} (${s.timezone})` : `every ${s.intervalSeconds} s`;
}

function lastCell(s: ScheduleView): HTMLTableCellElement {
  if (s.lastFiredAt === null) return h('td', { class: 'col-last muted' }, 'not yet');
  const when = formatDateTime(s.lastFireTime);
  if (s.lastError !== null) return h('td', { class: 'col-last' }, when, ' ', h('span', { class: 'is-error', 'data-testid': 'schedule-error' }, s.lastError));
  return h('td', { class: 'col-last' }, when, ' → ', s.lastJobId ? h('a', { href: jobHref(s.lastJobId) }, 'its job') : null);
}

/** A datetime-local field's value as epoch ms (empty: null). */
const fromLocal = (v: string): number | null => (v === '' ? null : new Date(v).getTime());
const toLocal = (ms: number | null): string => {
  if (ms === null) return '';
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};

function labelled(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || uid('sched');
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
}

class ScheduleForm {
  readonly el: HTMLFormElement;
  private readonly name = h('input', { type: 'text', name: 'name', maxlength: '47', placeholder: '(template name and a number)' });
  private readonly template = h('select', { name: 'template' });
  private readonly paramsBox = h('div', { class: 'params-box' });
  private readonly kind = h('select', { name: 'kind' }, h('option', { value: 'interval' }, 'every … seconds'), h('option', { value: 'cron' }, 'a cron expression'));
  private readonly interval = h('input', { type: 'number', name: 'intervalSeconds', min: '1', value: '3600' });
  private readonly cron = h('input', { type: 'text', name: 'cron', placeholder: '0 30 9 * * 1-5' });
  private readonly timezone = h('input', { type: 'text', name: 'timezone', value: 'UTC' });
  private readonly missed = h('select', { name: 'missed' }, h('option', { value: 'skip' }, 'skip them'), h('option', { value: 'runOnce' }, 'run once (the latest)'));
  private readonly startAt = h('input', { type: 'datetime-local', name: 'startAt' });
  private readonly endAt = h('input', { type: 'datetime-local', name: 'endAt' });
  private readonly error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'schedule-form-error' });
  private readonly title = h('h2', { id: 'schedule-form-title' }, 'New schedule');
  private readonly submit = h('button', { type: 'submit', class: 'primary' }, 'Create schedule');
  private readonly cancelEdit = h('button', { type: 'button', hidden: true }, 'Cancel editing');
  private params: ParameterForm | undefined;
  private editing: ScheduleView | undefined;
  private readonly cronBox: HTMLElement;
  private readonly intervalBox: HTMLElement;

  constructor(
    private readonly templates: Template[],
    private readonly saved: (s: ScheduleView) => void,
  ) {
    replaceChildren(this.template, templates.map((t) => h('option', { value: t.name }, `${t.title} (${t.name})`)));
    this.intervalBox = labelled('Interval (seconds)', this.interval);
    this.cronBox = h('div', null, labelled('Cron expression', this.cron, 'croner syntax: 5 fields, or 6 with seconds first'), labelled('Time zone', this.timezone, 'an IANA name, e.g. Europe/Berlin'));
    this.el = h(
      'form',
      { class: 'schedule-form', 'data-testid': 'schedule-form', novalidate: true, onsubmit: (e: Event) => { e.preventDefault(); void this.send(); } },
      this.title,
      labelled('Name', this.name),
      labelled('Template', this.template),
      this.paramsBox,
      labelled('Fires', this.kind),
      this.intervalBox,
      this.cronBox,
      labelled('Firings missed while jobvisor was down', this.missed),
      labelled('Starts (optional)', this.startAt),
      labelled('Ends (optional)', this.endAt),
      this.error,
      h('div', { class: 'actions' }, this.submit, this.cancelEdit),
    );
    this.template.addEventListener('change', () => this.showParams({}));
    this.kind.addEventListener('change', () => this.showKind());
    this.cancelEdit.addEventListener('click', () => this.reset());
    this.showParams({});
    this.showKind();
  }

  private showKind(): void {
    this.intervalBox.hidden = this.kind.value !== 'interval';
    this.cronBox.hidden = this.kind.value !== 'cron';
  }

  private showParams(values: Record<string, unknown>): void {
    const t = this.templates.find((x) => x.name === this.template.value);
    this.params = t ? new ParameterForm(t.parameters, values) : undefined;
    replaceChildren(this.paramsBox, this.params?.el ?? null);
  }

  edit(s: ScheduleView): void {
    this.editing = s;
    this.name.value = s.name;
    this.template.value = s.template;
    this.showParams(s.parameters);
    this.kind.value = s.cron !== null ? 'cron' : 'interval';
    this.cron.value = s.cron ?? '';
    this.timezone.value = s.timezone;
    this.interval.value = String(s.intervalSeconds ?? 3600);
    this.missed.value = s.missed;
    this.startAt.value = toLocal(s.startAt);
    this.endAt.value = toLocal(s.endAt);
    setText(this.title, `Edit schedule ${s.name}`);
    setText(this.submit, 'Save changes');
    this.cancelEdit.hidden = false;
    setText(this.error, '');
    this.showKind();
    this.el.scrollIntoView({ block: 'start' });
  }

  reset(): void {
    this.editing = undefined;
    this.el.reset();
    this.showParams({});
    setText(this.title, 'New schedule');
    setText(this.submit, 'Create schedule');
    this.cancelEdit.hidden = true;
    setText(this.error, '');
    this.showKind();
  }

  private body(): ScheduleInput | undefined {
    const values = this.params?.values();
    if (values && !values.ok) {
      values.first.input.focus();
      return undefined;
    }
    const b: ScheduleInput = { template: this.template.value, parameters: values?.ok ? values.values : {}, missed: this.missed.value as ScheduleInput['missed'] };
    if (this.name.value.trim() !== '') b.name = this.name.value.trim();
    if (this.kind.value === 'cron') {
      b.cron = this.cron.value.trim();
      b.timezone = this.timezone.value.trim() || 'UTC';
    } else {
      b.intervalSeconds = Number(this.interval.value);
    }
    const start = fromLocal(this.startAt.value);
    const end = fromLocal(this.endAt.value);
    if (start !== null || this.editing) b.startAt = start;
    if (end !== null || this.editing) b.endAt = end;
    return b;
  }

  private async send(): Promise<void> {
    const b = this.body();
    if (!b) return;
    setText(this.error, '');
    this.submit.disabled = true;
    try {
      const s = this.editing ? await api.editSchedule(this.editing.scheduleId, b) : await api.createSchedule(b);
      notify(this.editing ? `Schedule ${s.name} saved.` : `Schedule ${s.name} created.`, { kind: 'success' });
      this.reset();
      this.saved(s);
    } catch (err) {
      // Parameter issues go next to their fields; the message says what is wrong in any case.
      const issues = err instanceof ApiError ? ((err.details as { issues?: Issue[] } | undefined)?.issues ?? []) : [];
      this.params?.showIssues(issues);
      setText(this.error, describeError(err));
    } finally {
      this.submit.disabled = false;
    }
  }
}

export function schedulesView(ctx: ViewContext): View {
  const d = new Disposer();
  const admin = ctx.user.role === 'admin';
  const allBox = h('input', { type: 'checkbox', name: 'all' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading your schedules…');
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'schedules', 'data-testid': 'schedules-table' },
    h('thead', null, h('tr', null, ...['Name', admin ? 'User' : null, 'Template', 'When', 'Next firings', 'Last firing', 'State', ''].filter((x) => x !== null).map((c) => h('th', { scope: 'col' }, c)))),
    tbody,
  );
  // The table scrolls inside its frame on a narrow window (the page never scrolls sideways); no header without rows.
  const tableWrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Schedules', hidden: true }, table);
  const formBox = h('div', { class: 'form-box' }, h('p', { class: 'muted' }, 'Loading the job templates…'));
  let form: ScheduleForm | undefined;

  const act = async (button: HTMLButtonElement, what: string, fn: () => Promise<unknown>) => {
    button.disabled = true;
    try {
      await fn();
      await refresh();
    } catch (err) {
      notify(`${what}: ${describeError(err)}`, { kind: 'error' });
    } finally {
      button.disabled = false;
    }
  };

  const row = (s: ScheduleView): HTMLTableRowElement => {
    const pause = h('button', { type: 'button', class: 'small' }, s.state === 'paused' ? 'Resume' : 'Pause');
    pause.addEventListener('click', () => void act(pause, s.state === 'paused' ? 'Resuming' : 'Pausing', () => (s.state === 'paused' ? api.resumeSchedule(s.scheduleId) : api.pauseSchedule(s.scheduleId))));
    pause.hidden = s.state === 'ended';
    const edit = h('button', { type: 'button', class: 'small', onclick: () => form?.edit(s) }, 'Edit');
    const del = h('button', { type: 'button', class: 'small danger-outline' }, 'Delete');
    del.addEventListener('click', () => {
      if (!confirm(`Delete schedule ${s.name}? Its jobs stay.`)) return;
      void act(del, 'Deleting', () => api.deleteSchedule(s.scheduleId));
    });
    return h(
      'tr',
      { 'data-schedule-id': s.scheduleId, 'data-state': s.state },
      h('td', { class: 'col-name' }, s.name),
      admin ? h('td', null, s.user) : null,
      h('td', null, s.template),
      h('td', { class: 'col-when' }, whenText(s)),
      h('td', { class: 'col-next' }, s.nextFirings.length === 0 ? h('span', { class: 'muted' }, '—') : s.nextFirings.slice(0, 3).map((t) => h('div', null, formatDateTime(t)))),
      lastCell(s),
      h('td', { class: 'col-state', 'data-testid': 'schedule-state' }, s.state),
      h('td', { class: 'actions' }, pause, edit, del),
    );
  };

  const refresh = async () => {
    try {
      const list = await api.schedules(allBox.checked);
      if (d.destroyed) return;
      replaceChildren(tbody, list.map(row));
      tableWrap.hidden = list.length === 0;
      setText(status, list.length === 0 ? 'You have no schedules yet. Make one with the form.' : `${list.length} schedule${list.length === 1 ? '' : 's'}`);
    } catch (err) {
      setText(status, `The schedules could not be loaded: ${describeError(err)}`);
    }
  };
  allBox.addEventListener('change', () => void refresh());

  const el = h(
    'div',
    { class: 'page schedules-page' },
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'schedules-title' },
      h('div', { class: 'card-head' }, h('h1', { id: 'schedules-title' }, 'Schedules'), admin ? h('label', { class: 'check-row' }, allBox, ' Show every user’s') : null),
      status,
      tableWrap,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'schedule-form-title' }, formBox),
  );

  void api.templates().then(
    (templates) => {
      if (d.destroyed) return;
      form = new ScheduleForm(templates, () => void refresh());
      replaceChildren(formBox, form.el);
    },
    (err: unknown) => setText(formBox, `The templates could not be loaded: ${describeError(err)}`),
  );
  void refresh();
  d.interval(() => void refresh(), REFRESH_MS);
  return { el, title: 'Schedules', destroy: () => d.dispose() };
}
