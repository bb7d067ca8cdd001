/**
 * Staging a run's input files into its run directory, over the connection of the agent that
 * will run it (this machine, a Docker container's run directory, a cluster login node alike):
 * each file in io `write` ops of at most MAX_WRITE_CHUNK bytes. Done before every send of the
 * run op (so a resent run op after a restart stages again: the uploads stay until the run has started).
 */
import { JobvisorError } from '../shared/errors.js';
import { INPUTS_DIR, IoWriteResult, MAX_WRITE_CHUNK } from '../shared/protocol.js';
import { sendToAgent, type OpContext } from './opLoop.js';
import type { JobRow } from './store.js';
import { readChunks, type UploadService } from './uploads.js';

export interface StagingDeps extends OpContext {
  uploads: UploadService;
  /** How long one write op may wait for the agent. */
  opTimeoutMs: number;
}

export async function stageInputs(deps: StagingDeps, agentId: string, row: JobRow, runDir: string, signal: AbortSignal): Promise<void> {
  for (const input of row.inputs) {
    const stored = deps.uploads.stored(input);
    if (!stored) throw new JobvisorError('RUN_START_FAILED', `input file ${input.fileName} (${input.name}) is no longer stored; upload it again`);
    const rel = `${INPUTS_DIR}/${input.fileName}`;
    let offset = 0;
    const write = async (data: Buffer) => {
      const op = { kind: 'io' as const, action: 'write' as const, runDir, path: rel, offset, length: 1, dataBase64: data.toString('base64') };
      const r = IoWriteResult.parse(await sendToAgent(deps, agentId, op, AbortSignal.any([signal, AbortSignal.timeout(deps.opTimeoutMs)]), deps.opTimeoutMs));
      offset += data.length;
      if (r.size !== offset) throw new JobvisorError('RUN_START_FAILED', `staging ${rel}: the agent has ${r.size} bytes, not ${offset}`);
    };
    for await (const chunk of readChunks(stored.file, MAX_WRITE_CHUNK)) {
      if (signal.aborted) throw signal.reason;
      await write(chunk);
    }
    if (offset === 0) await write(Buffer.alloc(0));
    if (offset !== input.size) throw new JobvisorError('RUN_START_FAILED', `input file ${input.fileName} has ${offset} bytes stored, not ${input.size}`);
  }
}
