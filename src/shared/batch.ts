/**
 * Batches of run requests (POST /api/jobs/batch): the body `{runs: [run request, ...]}` read
 * entry by entry, so that a refusal names every bad entry by its index (BATCH_INVALID,
 * `details.errors: [{index, code, message}]`). Both the server and the supervisor read it.
 */
import { BatchBody, RunBody, type BatchEntryError } from './api.js';
import { JobvisorError } from './errors.js';
import { parseInput } from './httpBody.js';
import { formatIssues } from './template.js';

/** The refusal of a whole batch: its bad entries, in index order. Nothing of the batch was stored. */
export function batchInvalid(errors: BatchEntryError[], total: number): JobvisorError {
  const sorted = [...errors].sort((a, b) => a.index - b.index);
  const first = sorted[0];
  const shown = first ? `; the first, entry ${first.index}: ${first.message}` : '';
  return new JobvisorError('BATCH_INVALID', `${sorted.length} of the batch's ${total} runs are not valid, so none was queued${shown}`, { errors: sorted });
}

/** An error as a batch entry's: its code and (when it may be shown) its message. */
export function entryError(index: number, err: unknown): BatchEntryError {
  if (err instanceof JobvisorError) return { index, code: err.code, message: err.expose ? err.message : 'internal error' };
  return { index, code: 'INTERNAL', message: 'internal error' };
}

/** Reads a batch body: at most `maxRuns` entries, each a valid run request. */
export function parseBatch(value: unknown, maxRuns: number): RunBody[] {
  const { runs } = parseInput(BatchBody, value, 'request body');
  if (runs.length === 0) throw new JobvisorError('INVALID_INPUT', 'request body is not valid: runs: a batch holds at least one run');
  if (runs.length > maxRuns) throw new JobvisorError('BATCH_TOO_LARGE', `a batch holds at most ${maxRuns} runs (setting maxBatchRuns), not ${runs.length}`, { limit: maxRuns });
  const out: RunBody[] = [];
  const errors: BatchEntryError[] = [];
  runs.forEach((entry, index) => {
    const r = RunBody.safeParse(entry);
    if (r.success) out.push(r.data);
    else errors.push({ index, code: 'INVALID_INPUT', message: `run ${index} is not valid: ${formatIssues(r.error)}` });
  });
  if (errors.length > 0) throw batchInvalid(errors, runs.length);
  return out;
}
