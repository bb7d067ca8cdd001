/**
 * How a followed run is shown: on a terminal a live progress bar with a status line
 * (cli-progress, on stderr); otherwise one plain line per change on stdout (status, percent,
 * what it waits for or its progress message); with --json one `{"job": ...}` line per change.
 */
import cliProgress from 'cli-progress';
import type { JobView } from '../shared/api.js';
import type { Output } from './output.js';
import type { RunWatcher } from './watchRun.js';

export interface RunDisplay extends RunWatcher {
  /** Stops drawing (the bar stays on screen at its last state). */
  stop(): void;
}

/** What the run is doing, in a few words: what it waits for, or its progress message. */
export function statusWords(job: JobView): string {
  if (job.status === 'pending') return job.waitingFor ?? (job.queuePosition ? `queued (${job.queuePosition} in line)` : 'queued');
  if (job.status === 'running') return [job.phase && job.phase !== 'running' ? job.phase : '', job.progressMessage ?? ''].filter(Boolean).join(': ');
  return job.reason ?? '';
}

function percent(job: JobView): string {
  return job.progress === null ? '' : `${Math.floor(job.progress * 100)}%`;
}

/** One plain line for a job's state: `running 42% frame 17/40 written`. */
export function statusLine(job: JobView): string {
  return [job.status, percent(job), statusWords(job)].filter(Boolean).join(' ');
}

class LineDisplay implements RunDisplay {
  private last = '';
  constructor(private readonly out: Output) {}
  onUpdate(job: JobView): void {
    const line = statusLine(job);
    if (line === this.last) return;
    this.last = line;
    this.out.raw(line + '\n');
  }
  stop(): void {}
}

class JsonDisplay implements RunDisplay {
  constructor(private readonly out: Output) {}
  onUpdate(job: JobView): void {
    this.out.result({ job }, () => '');
  }
  stop(): void {}
}

/** How long the run has been running (or, while pending, waiting), as `1m 05s`. */
function elapsed(job: JobView, now: number): string {
  const since = job.status === 'pending' ? job.queuedAt : (job.startedAt ?? job.queuedAt);
  const s = Math.max(0, Math.round(((job.endedAt ?? now) - since) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

class BarDisplay implements RunDisplay {
  private readonly bar: cliProgress.SingleBar;
  private started = false;
  private job: JobView | undefined;
  /** Redraws the elapsed time every second, between the run's own updates. */
  private clock: NodeJS.Timeout | undefined;
  constructor(out: Output, title: string) {
    this.bar = new cliProgress.SingleBar(
      {
        format: `${title} {bar} {percentage}% | {status} | {elapsed} | {words}`,
        stream: out.errStream,
        hideCursor: true,
        barsize: 30,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
  }
  private payload(job: JobView) {
    return { status: job.status, words: statusWords(job), elapsed: elapsed(job, Date.now()) };
  }
  onUpdate(job: JobView): void {
    this.job = job;
    const value = Math.round((job.progress ?? 0) * 1000);
    if (!this.started) {
      this.started = true;
      this.bar.start(1000, value, this.payload(job));
      this.clock = setInterval(() => this.job && this.bar.update(this.payload(this.job)), 1000);
      this.clock.unref();
    } else this.bar.update(value, this.payload(job));
  }
  stop(): void {
    clearInterval(this.clock);
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

export function runDisplay(out: Output, title: string): RunDisplay {
  if (out.json) return new JsonDisplay(out);
  return out.interactive ? new BarDisplay(out, title) : new LineDisplay(out);
}
