/** Pipelines in the GUI: their API calls, and how a stage's and a pipeline's state look. */
import type { PipelinePage, PipelineState, PipelineView, StageState, StageView } from '../../src/shared/pipelines.js';
import { call as apiCall } from './api.js';
import { h } from './dom.js';

export type { PipelineView, StageView };

export interface PipelineEventData {
  type: 'pipeline';
  user: string;
  pipelineId: string;
  pipeline: PipelineView | null;
}

const call = <T>(method: 'GET' | 'POST', path: string): Promise<T> => apiCall<T>(method, path, method === 'POST' ? {} : undefined);

const one = (id: string) => `/api/pipelines/${encodeURIComponent(id)}`;

export const pipelineApi = {
  /** One page of the list, newest first (admins: everyone's with `all`); `cursor`: the previous page's nextCursor. */
  page: (all: boolean, cursor?: string) => {
    const q = new URLSearchParams();
    if (all) q.set('all', '1');
    if (cursor !== undefined) q.set('cursor', cursor);
    const search = q.toString();
    return call<PipelinePage>('GET', search ? `/api/pipelines?${search}` : '/api/pipelines');
  },
  get: (id: string) => call<{ pipeline: PipelineView }>('GET', one(id)).then((r) => r.pipeline),
  cancel: (id: string) => call<{ pipeline: PipelineView }>('POST', `${one(id)}/cancel`).then((r) => r.pipeline),
  resume: (id: string) => call<{ pipeline: PipelineView }>('POST', `${one(id)}/resume`).then((r) => r.pipeline),
  /** POST /api/pipelines: the body is checked whole; a refusal names the stage (details.stage, details.cycle, ...). */
  create: (body: unknown) => apiCall<{ pipeline: PipelineView }>('POST', '/api/pipelines', body).then((r) => r.pipeline),
};

/** Badge classes shared with job statuses, so the colours mean the same. */
const BADGE: Record<StageState | PipelineState, string> = {
  waiting: 'pending',
  starting: 'pending',
  running: 'running',
  completed: 'completed',
  failed: 'error',
  canceled: 'canceled',
  blocked: 'canceled',
};

export function stateBadge(state: StageState | PipelineState): HTMLSpanElement {
  return h('span', { class: `badge badge-${BADGE[state]}`, 'data-state': state }, state);
}

export const pipelineHref = (id: string): string => `#/pipelines/${encodeURIComponent(id)}`;
