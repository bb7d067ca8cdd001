/** Builds the pipeline service from the supervisor's parts (main.ts): jobs, reads, uploads, the job store. */
import path from 'node:path';
import type { JobEvent } from '../../shared/api.js';
import type { Config } from '../../shared/config.js';
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Template } from '../../shared/template.js';
import type { JobService } from '../jobs.js';
import { readFile, removeJobFiles, type ReadDeps } from '../reads.js';
import type { JobStore } from '../store.js';
import type { UploadService } from '../uploads.js';
import { PipelineService } from './service.js';
import type { PipelineStore } from './store.js';

export interface PipelineWiring {
  config: Config;
  log: Logger;
  store: JobStore;
  jobs: JobService;
  reads: ReadDeps;
  uploads: UploadService;
  emit(e: JobEvent): void;
  templates: Map<string, Template>;
  pipelineStore: PipelineStore;
}

const MEDIA_TYPES: Record<string, string> = { '.txt': 'text/plain', '.json': 'application/json', '.csv': 'text/csv', '.pdb': 'chemical/x-pdb' };

const ignore = (...codes: string[]) => (err: unknown) => {
  if (!(err instanceof JobvisorError && codes.includes(err.code))) throw err;
};

export function createPipelines(w: PipelineWiring): PipelineService {
  const { jobs, store } = w;
  return new PipelineService({
    store: w.pipelineStore,
    template: (name) => w.templates.get(name),
    run: (caller, body) => jobs.run(caller, body),
    cancelJob: (caller, jobId) => jobs.cancel(caller, jobId, undefined).then(() => undefined, ignore('JOB_NOT_ACTIVE', 'JOB_NOT_FOUND')),
    removeJob: (caller, jobId) => jobs.remove(caller, jobId, (job) => removeJobFiles(w.reads, job)).catch(ignore('JOB_NOT_FOUND')),
    job: (jobId) => store.getJob(jobId),
    findJob: (user, jobKey) => store.findJob(user, jobKey),
    handoff: {
      readFile: (caller, jobId, file, serial) => readFile(w.reads, caller, jobId, file, serial),
      storeUpload: async (caller, stream, meta) => {
        const template = w.templates.get(meta.template);
        const mediaType = MEDIA_TYPES[path.extname(meta.fileName).toLowerCase()] ?? 'application/octet-stream';
        return (await w.uploads.receive(caller, stream, { fileName: meta.fileName, mediaType, template, input: meta.input })).uploadId;
      },
      discardUpload: (caller, uploadId) => w.uploads.remove(caller, uploadId),
      maxFileBytes: w.config.pipelineMaxFileBytes,
    },
    emit: w.emit,
    log: w.log,
    maxStages: w.config.pipelineMaxStages,
  });
}
