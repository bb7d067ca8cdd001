/**
 * Plots of a job's analysis frames (POST /api/jobs/:id/analysis). A frame whose answer holds
 * numeric arrays is drawn as a line chart: `x` (or `t`) across, the other array up. heat1d's
 * `temperature` gives the profile u(x) of one frame (the latest while following, or the one the
 * slider picks), its `energy` the heat content over time. While the run goes on the frames are
 * asked again when its progress changes, at most once a second. Templates without analysis
 * frames get no plot.
 */
import { api, ApiError } from './api.js';
import { h, replaceChildren, setText, uid } from './dom.js';
import { describeError } from './notify.js';
import { renderMarkdown } from './markdown.js';
import { LinePlot } from './plot.js';
import { isActive, type JobView, type Template } from './types.js';

/** An index past every frame: the analysis answers with the latest one. */
const LATEST = 1_000_000;
const MIN_INTERVAL_MS = 1000;

type Data = Record<string, unknown>;

function numericArrays(data: Data): string[] {
  return Object.keys(data).filter((k) => {
    const v = data[k];
    return Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'number' || n === null);
  });
}

/** "x in m, t in s and u in °C" in a frame's description: units the answer itself does not carry. */
function unitsFromDescription(description: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of description.matchAll(/\b([A-Za-z]\w*) in ([^\s,;:)]+?)(?=[\s,;:)]|\.?$|\.\s)/g)) {
    if (m[1] && m[2] && !(m[1] in out)) out[m[1]] = m[2].replace(/\.$/, '');
  }
  return out;
}

function label(key: string, units: Record<string, string>): string {
  return units[key] ? `${key} (${units[key]})` : key;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

/**
 * How many frames the run writes in all: the answer's `total`, else the run's `frames`
 * parameter (heat1d's), else null. `frames` in an answer counts those written so far.
 */
function plannedFrames(d: Data, job: JobView): number | null {
  if (typeof d.total === 'number') return d.total;
  if (typeof job.parameters.frames === 'number') return job.parameters.frames;
  return null;
}

/** One numbering wherever a person reads it: "frame 3 of 50" for index 2 (indexes count from 0). */
export function frameText(index: number, total: number | null): string {
  return total === null ? `frame ${index + 1}` : `frame ${index + 1} of ${total}`;
}

class FramePlot {
  readonly el: HTMLElement;
  plot: LinePlot | undefined;
  private readonly body = h('div', { class: 'plot-body' });
  private readonly note = h('p', { class: 'plot-note muted', role: 'status' });
  /** For frames that take an index: follow the latest, or show the one picked. */
  readonly follow: HTMLInputElement;
  readonly slider: HTMLInputElement;
  private readonly sliderRow: HTMLElement;
  private readonly sliderValue = h('output', { class: 'slider-value' });
  private units: Record<string, string>;
  /** How many frames the run writes in all (null: not known). */
  private total: number | null = null;

  constructor(
    readonly frame: string,
    private readonly description: string,
    private readonly onPick: () => void,
  ) {
    this.units = unitsFromDescription(description);
    const id = uid('frame');
    this.follow = h('input', { type: 'checkbox', id: `${id}-follow`, checked: true });
    this.slider = h('input', { type: 'range', id: `${id}-slider`, min: '0', max: '0', step: '1', value: '0', disabled: true });
    this.sliderValue.setAttribute('for', this.slider.id);
    this.sliderRow = h(
      'div',
      { class: 'slider-row', hidden: true },
      h('label', { for: this.slider.id }, 'Frame'),
      this.slider,
      this.sliderValue,
      h('span', { class: 'check-row' }, this.follow, h('label', { for: this.follow.id }, 'Follow the latest')),
    );
    // The slider always works (moving it stops following the latest); the box goes back to following.
    this.follow.addEventListener('change', () => this.onPick());
    let t: ReturnType<typeof setTimeout> | undefined;
    this.slider.addEventListener('input', () => {
      this.follow.checked = false;
      this.showSliderValue();
      clearTimeout(t);
      t = setTimeout(() => this.onPick(), 150);
    });
    this.el = h(
      'section',
      { class: 'frame-plot', 'data-frame': frame },
      h('h3', null, frame),
      description ? h('details', { class: 'frame-about' }, h('summary', null, 'About this frame'), renderMarkdown(description)) : null,
      this.body,
      this.sliderRow,
      this.note,
    );
    setText(this.note, 'Waiting for the run to start…');
  }

  /** The index to ask for. */
  index(): number {
    return this.follow.checked ? LATEST : Number(this.slider.value);
  }

  setNote(text: string): void {
    setText(this.note, text);
  }

  show(data: unknown, job: JobView): void {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      this.setNote('This frame gave no plottable data.');
      return;
    }
    const d = data as Data;
    if (d.units && typeof d.units === 'object') this.units = { ...this.units, ...(d.units as Record<string, string>) };
    const arrays = numericArrays(d);
    const xKey = ['x', 't'].find((k) => arrays.includes(k)) ?? arrays[0];
    const yKey = arrays.find((k) => k !== xKey && (d[k] as unknown[]).length === (d[xKey ?? ''] as unknown[] | undefined)?.length);
    const hasIndex = typeof d.frames === 'number' && 'index' in d;
    const total = plannedFrames(d, job);
    if (hasIndex) this.updateSlider(d.frames as number, total, typeof d.index === 'number' ? d.index : null);
    if (!xKey || !yKey) {
      this.setNote(typeof d.frames === 'number' && d.frames === 0 ? 'No frame has been written yet.' : 'Nothing to plot yet.');
      return;
    }
    if (!this.plot) {
      this.plot = new LinePlot({ title: `${this.frame}: ${yKey} over ${xKey}`, xLabel: label(xKey, this.units), yLabel: label(yKey, this.units), seriesLabel: label(yKey, this.units), growY: hasIndex });
      replaceChildren(this.body, this.plot.el);
    }
    const x = d[xKey] as number[];
    const y = d[yKey] as (number | null)[];
    const parts: string[] = [];
    if (hasIndex && typeof d.index === 'number') {
      parts.push(frameText(d.index, total));
      if (typeof d.t === 'number') parts.push(`t = ${fmt(d.t)}${this.units.t ? ` ${this.units.t}` : ''}`);
    } else if (typeof d.frames === 'number') {
      parts.push(total !== null && total !== d.frames ? `${d.frames} of ${total} frames` : `${d.frames} frame${d.frames === 1 ? '' : 's'}`);
    }
    parts.push(`${x.length} points`);
    this.plot.setData(x, y, parts.join(' · '));
    if (hasIndex && typeof d.index === 'number') this.plot.el.dataset.frameIndex = String(d.index);
    this.setNote(isActive(job.status) ? 'Updated while the run goes on.' : '');
  }

  /** The slider picks among the frames written so far; its value reads as the caption does ("frame 3 of 50"). */
  private updateSlider(frames: number, total: number | null, index: number | null): void {
    if (frames <= 0) return;
    this.total = total;
    this.sliderRow.hidden = false;
    this.slider.max = String(frames - 1);
    if (this.follow.checked && index !== null) this.slider.value = String(index);
    this.slider.disabled = false;
    this.showSliderValue();
  }

  private showSliderValue(): void {
    setText(this.sliderValue, frameText(Number(this.slider.value), this.total));
  }

  reset(): void {
    this.plot?.destroy();
    this.plot = undefined;
    replaceChildren(this.body);
    this.sliderRow.hidden = true;
    this.follow.checked = true;
    this.slider.value = '0';
    this.slider.disabled = true;
    this.setNote('Waiting for the run to start…');
  }

  destroy(): void {
    this.plot?.destroy();
  }
}

export class ResultPlots {
  readonly el: HTMLElement;
  private readonly frames: FramePlot[];
  private job: JobView | undefined;
  private lastAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = false;
  private again = false;
  private destroyed = false;

  constructor(template: Template) {
    this.frames = Object.entries(template.analysis).map(([name, a]) => new FramePlot(name, a.description, () => this.refresh(true)));
    this.el = h(
      'section',
      { class: 'card results', 'aria-labelledby': 'results-title', hidden: this.frames.length === 0, 'data-testid': 'result-plots' },
      h('h2', { id: 'results-title' }, 'Results'),
      h('div', { class: 'plots' }, this.frames.map((f) => f.el)),
    );
  }

  get empty(): boolean {
    return this.frames.length === 0;
  }

  /** The job changed (an event or a fetch): asks the frames again when the run has progressed. */
  update(job: JobView): void {
    const prev = this.job;
    this.job = job;
    if (this.empty) return;
    if (prev && prev.serial !== job.serial) {
      for (const f of this.frames) f.reset();
    }
    if (job.startedAt === null) {
      for (const f of this.frames) if (!f.plot) f.setNote(isActive(job.status) ? 'The plot appears once the run has started.' : 'The run never started: no results.');
      return;
    }
    const changed = !prev || prev.serial !== job.serial || prev.progress !== job.progress || prev.status !== job.status || prev.startedAt !== job.startedAt;
    if (changed) this.refresh(prev?.status !== job.status && !isActive(job.status));
  }

  /** Asks the frames again, at most once a second (`now`: as soon as nothing is in flight). */
  refresh(now = false): void {
    if (this.destroyed || !this.job || this.job.startedAt === null) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) {
      if (!now) return;
      clearTimeout(this.timer);
    }
    const wait = now ? 0 : Math.max(0, this.lastAt + MIN_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.fetchAll();
    }, wait);
  }

  private async fetchAll(): Promise<void> {
    const job = this.job;
    if (!job || this.destroyed) return;
    this.inFlight = true;
    this.lastAt = Date.now();
    try {
      await Promise.all(
        this.frames.map(async (f) => {
          try {
            const answer = await api.analysis(job.jobId, f.frame, f.index(), job.serial);
            if (this.destroyed || this.job?.serial !== answer.serial) return;
            f.show(answer.data, this.job);
          } catch (err) {
            if (this.destroyed) return;
            if (err instanceof ApiError && err.code === 'STALE_SERIAL') return; // a new run: the page follows it
            f.setNote(`Could not compute this frame: ${describeError(err)}`);
          }
        }),
      );
    } finally {
      this.inFlight = false;
      if (this.again && !this.destroyed) {
        this.again = false;
        this.refresh();
      }
    }
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.timer);
    for (const f of this.frames) f.destroy();
  }
}
