/**
 * A line chart (uPlot, drawn on a canvas) that follows its container's width. The figure's
 * caption says what is shown (e.g. "frame 4 of 10 · t = 0.89 s"); the figure also carries it
 * and the number of points as data attributes (data-caption, data-points).
 */
import uPlot from 'uplot';
import { h, setText } from './dom.js';
import { tickLabels } from './numbers.js';

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  seriesLabel: string;
  /** Keeps the y range from the lowest to the highest value shown so far (frames stay comparable). */
  growY?: boolean;
  height?: number;
  stroke?: string;
}

/** A value as a person reads it: 4 significant digits, or exponent notation when very large or small. */
function tidy(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Room for the y axis: its widest tick label (about 7 px a character at the axis font) and the axis label. */
function axisSize(_u: uPlot, values: string[] | null): number {
  const longest = Math.max(3, ...(values ?? []).map((v) => v.length));
  return Math.min(110, 30 + longest * 7);
}

export class LinePlot {
  readonly el: HTMLElement;
  private readonly box = h('div', { class: 'plot-box' });
  private readonly caption = h('figcaption', { class: 'plot-caption' });
  private chart: uPlot | undefined;
  private readonly observer: ResizeObserver;
  private yMin = Infinity;
  private yMax = -Infinity;

  constructor(private readonly opts: LinePlotOptions) {
    this.el = h('figure', { class: 'plot', 'data-points': '0', 'aria-label': opts.title }, this.box, this.caption);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.box);
  }

  private width(): number {
    return Math.max(240, Math.floor(this.box.clientWidth || 600));
  }

  private height(): number {
    return this.opts.height ?? (window.innerWidth < 600 ? 220 : 300);
  }

  private resize(): void {
    if (!this.chart) return;
    const w = this.width();
    const ht = this.height();
    if (w !== this.chart.width || ht !== this.chart.height) this.chart.setSize({ width: w, height: ht });
  }

  /** Shows a new series; `caption` says which (frame, time). */
  setData(x: number[], y: (number | null)[], caption: string): void {
    if (this.opts.growY) {
      for (const v of y) {
        if (v === null || !Number.isFinite(v)) continue;
        if (v < this.yMin) this.yMin = v;
        if (v > this.yMax) this.yMax = v;
      }
    }
    const data: uPlot.AlignedData = [x, y];
    if (!this.chart) this.chart = this.create(data);
    else this.chart.setData(data, true);
    setText(this.caption, caption);
    this.el.dataset.points = String(x.length);
    this.el.dataset.caption = caption;
    this.el.setAttribute('aria-label', `${this.opts.title}: ${caption}`);
  }

  /** Resets the kept y range (a new run). */
  reset(): void {
    this.yMin = Infinity;
    this.yMax = -Infinity;
    this.chart?.destroy();
    this.chart = undefined;
    setText(this.caption, '');
    this.el.dataset.points = '0';
    delete this.el.dataset.caption;
  }

  private create(data: uPlot.AlignedData): uPlot {
    const css = getComputedStyle(document.documentElement);
    const axisColor = css.getPropertyValue('--muted').trim() || '#667';
    const gridColor = css.getPropertyValue('--grid').trim() || '#e5e7eb';
    const stroke = this.opts.stroke ?? (css.getPropertyValue('--accent').trim() || '#2563eb');
    // The labels drawn (on the canvas) are also kept as data-x-ticks / data-y-ticks, for tests and tools.
    const axis = (label: string, which: 'x' | 'y'): uPlot.Axis => ({
      label,
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
      values: (_u, splits, _axis, _space, step) => {
        const labels = tickLabels(splits, step);
        this.el.setAttribute(`data-${which}-ticks`, labels.join(' '));
        return labels;
      },
      size: which === 'y' ? (u, values) => axisSize(u, values) : 50,
    });
    const opts: uPlot.Options = {
      width: this.width(),
      height: this.height(),
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false },
        y: {
          range: (_u, min, max) => {
            let lo = this.opts.growY && Number.isFinite(this.yMin) ? Math.min(min, this.yMin) : min;
            let hi = this.opts.growY && Number.isFinite(this.yMax) ? Math.max(max, this.yMax) : max;
            if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
            if (lo === hi) {
              const pad = Math.abs(lo) * 0.05 || 1;
              lo -= pad;
              hi += pad;
            }
            const pad = (hi - lo) * 0.05;
            return [lo - pad, hi + pad];
          },
        },
      },
      axes: [axis(this.opts.xLabel, 'x'), axis(this.opts.yLabel, 'y')],
      // The legend names the series; the values (of the point under the cursor) show only while one is hovered.
      series: [
        { label: this.opts.xLabel, value: (_u, v) => (v === null ? '' : tidy(v)) },
        { label: this.opts.seriesLabel, stroke, width: 2, points: { show: false }, value: (_u, v) => (v === null ? '' : tidy(v)) },
      ],
      hooks: {
        setLegend: [(u) => this.el.classList.toggle('hovering', u.legend.idx !== null && u.legend.idx !== undefined)],
      },
    };
    return new uPlot(opts, data, this.box);
  }

  destroy(): void {
    this.observer.disconnect();
    this.chart?.destroy();
    this.chart = undefined;
  }
}
