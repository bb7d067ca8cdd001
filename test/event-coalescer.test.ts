/** Units of the job-event coalescer (src/supervisor/eventCoalescer.ts): what is merged, what keeps its order. */
import { describe, expect, it } from 'vitest';
import type { JobEvent, JobView } from '../src/shared/api.js';
import { coalesceJobEvents } from '../src/supervisor/eventCoalescer.js';

const view = (jobId: string, serial: number, status: JobView['status'], waitingFor: string | null = null, history: JobView['history'] = []): JobEvent =>
  ({ type: 'job', user: 'u', job: { jobId, serial, status, waitingFor, history } as unknown as JobView }) as JobEvent;

function setup() {
  const out: string[] = [];
  const turns: (() => void)[] = [];
  const errors: unknown[] = [];
  const c = coalesceJobEvents(
    (e) => {
      if (e.type === 'job' && e.job.waitingFor === 'boom') throw new Error('boom');
      out.push(e.type === 'job' ? `${e.job.jobId}:${e.job.serial}:${e.job.status}:${e.job.waitingFor ?? ''}` : e.type);
    },
    (err) => errors.push(err),
    (fn) => turns.push(fn),
  );
  const endTurn = () => turns.splice(0).forEach((fn) => fn());
  return { c, out, endTurn, errors, turns };
}

describe('one job event per job per turn', () => {
  it('sends the last view of a run of one turn, once, at the end of the turn', () => {
    const { c, out, endTurn, turns } = setup();
    c.emit(view('a', 1, 'pending', 'queued'));
    c.emit(view('a', 1, 'pending', 'starting agent'));
    c.emit(view('b', 1, 'pending', 'queued'));
    c.emit(view('a', 1, 'pending', 'waiting for a CPU slot'));
    expect(out).toEqual([]);
    expect(turns.length).toBe(1);
    endTurn();
    expect(out).toEqual(['a:1:pending:waiting for a CPU slot', 'b:1:pending:queued']);
  });

  it('never merges away an end, a new run, or a view with history; other events send what is held first', () => {
    const { c, out, endTurn } = setup();
    c.emit(view('a', 1, 'running'));
    c.emit(view('a', 1, 'completed'));
    c.emit(view('a', 2, 'pending', 'queued'));
    c.emit({ type: 'log', user: 'u', jobId: 'a', serial: 2, lines: ['x'] });
    c.emit(view('a', 2, 'running'));
    c.emit(view('a', 2, 'running', null, [{ serial: 1 } as JobView['history'][number]]));
    c.emit({ type: 'deleted', user: 'u', jobId: 'a' });
    endTurn();
    expect(out).toEqual(['a:1:completed:', 'a:2:pending:queued', 'log', 'a:2:running:', 'a:2:running:', 'deleted']);
  });

  it('a quiet view only updates a view held this turn, and an error of one event spares the others', () => {
    const { c, out, endTurn, errors } = setup();
    c.emit(view('a', 1, 'pending', 'starting run'), true);
    endTurn();
    expect(out).toEqual([]);
    c.emit(view('a', 1, 'pending', 'waiting for a CPU slot'));
    c.emit(view('a', 1, 'pending', 'starting run'), true);
    c.emit(view('b', 1, 'pending', 'boom'));
    c.emit(view('c', 1, 'pending', 'queued'));
    endTurn();
    expect(out).toEqual(['a:1:pending:starting run', 'c:1:pending:queued']);
    expect(errors.length).toBe(1);
  });
});
