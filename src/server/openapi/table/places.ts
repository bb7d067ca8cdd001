/** Targets and cluster logins, input file uploads, agents and slots, disk use, retention, notifications (admin views). */
import { DeliveriesQuery, LifetimesQuery, TargetLoginBody } from '../../../shared/api.js';
import {
  AgentLogAnswer, AgentsAnswer, DeliveriesAnswer, LifetimesAnswer, SlotsAnswer, SweepAnswer, TargetsAnswer, TargetStatusAnswer, UploadsAnswer, UploadViewAnswer, UsageAnswer, UsersUsageAnswer,
} from '../../../shared/answers/places.js';
import type { ErrorCode } from '../../../shared/errors.js';
import { op, type RouteDoc } from '../describe.js';

const LOGIN_ERRORS: ErrorCode[] = ['TARGET_NOT_FOUND', 'CLUSTER_CREDENTIALS_REFUSED', 'CLUSTER_UNREACHABLE', 'HOST_KEY_MISMATCH', 'AGENT_START_FAILED', 'AGENT_START_TIMEOUT'];
const targetLogin = (which: string): RouteDoc =>
  op({
    summary: `Log in to ${which} with your own cluster account (password and one-time code, or a private key)`,
    description: 'The credentials open an SSH session and are forgotten: never stored or logged.',
    tags: ['targets'],
    body: TargetLoginBody,
    answers: { 200: TargetStatusAnswer },
    errors: LOGIN_ERRORS,
  });
const targetStatus = (which: string): RouteDoc => op({ summary: `${which}, and the caller's login to it`, tags: ['targets'], answers: { 200: TargetStatusAnswer }, errors: ['TARGET_NOT_FOUND'] });
const agentLog = (which: string): RouteDoc =>
  op({ summary: `The caller's agent's own log on ${which}, and the scheduler commands it ran`, tags: ['targets'], answers: { 200: AgentLogAnswer }, errors: ['TARGET_NOT_FOUND', 'LOGIN_REQUIRED', 'AGENT_LOST', 'OP_TIMEOUT'] });
const FIRST = 'the first target that needs a login (jobvisor 0.1)';

export const PLACE_ROUTES = {
  'GET /api/targets': op({ summary: 'List the targets (places where runs go) and the caller’s login to each', tags: ['targets'], answers: { 200: TargetsAnswer } }),
  'POST /api/targets/:target/login': targetLogin('a target'),
  'GET /api/targets/:target/status': targetStatus('A target'),
  'GET /api/targets/:target/agent-log': agentLog('a target'),
  'POST /api/cluster/login': targetLogin(FIRST),
  'GET /api/cluster/status': targetStatus(`The first target that needs a login (jobvisor 0.1)`),
  'GET /api/cluster/agent-log': agentLog(FIRST),
  'POST /api/uploads': op({
    summary: 'Upload an input file for a later run (it expires unless a run refers to it)',
    tags: ['uploads'],
    multipart: { description: 'One file part named `file`.', properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } }, required: ['file'] },
    answers: { 201: UploadViewAnswer },
    errors: ['INVALID_MULTIPART', 'UPLOAD_TOO_LARGE', 'UPLOAD_QUOTA', 'UNKNOWN_TEMPLATE', 'UNKNOWN_INPUT', 'INPUT_TYPE_REFUSED'],
  }),
  'GET /api/uploads': op({ summary: "List the caller's uploads", tags: ['uploads'], answers: { 200: UploadsAnswer } }),
  'DELETE /api/uploads/:uploadId': op({ summary: 'Remove an upload', tags: ['uploads'], answers: { 204: null }, errors: ['UPLOAD_NOT_FOUND', 'UPLOAD_IN_USE'] }),
  'GET /api/agents': op({ summary: 'List the agents (admins)', tags: ['admin'], answers: { 200: AgentsAnswer } }),
  'GET /api/slots': op({ summary: 'CPU slot use of every pool: total, used, waiting (admins)', tags: ['admin'], answers: { 200: SlotsAnswer } }),
  'GET /api/usage': op({ summary: "The caller's disk use per target, as the last retention sweep measured it", tags: ['runs'], answers: { 200: UsageAnswer } }),
  'GET /api/admin/usage': op({ summary: "Every user's disk use (admins)", tags: ['admin'], answers: { 200: UsersUsageAnswer } }),
  'POST /api/admin/retention/sweep': op({ summary: 'Run a retention sweep now and answer its report (admins)', tags: ['admin'], answers: { 200: SweepAnswer } }),
  'GET /api/admin/deliveries': op({ summary: 'Completion callback deliveries and their attempts (admins)', tags: ['admin'], query: DeliveriesQuery, answers: { 200: DeliveriesAnswer } }),
  'GET /api/admin/lifetimes': op({
    summary: 'How long runs spent in each state, per template and target (admins)',
    description: 'Over runs that ended between `since` and `until` (default: the last 7 days).',
    tags: ['admin'],
    query: LifetimesQuery,
    answers: { 200: LifetimesAnswer },
  }),
} as const;
