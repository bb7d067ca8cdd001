/**
 * Answer schemas of targets, agents, slots, uploads, disk use, notifications and retention
 * (interfaces in src/shared/api.ts), each checked against its interface at compile time.
 */
import { z } from 'zod';
import type { AccountSettings, AgentLog, AgentView, DeliveryView, LifetimeRow, OptionField, SlotUsage, TargetLogin, TargetStatus, TargetUsage, TargetView, UploadView, UserUsage } from '../api.js';
import { NotifyOnEnd } from '../api.js';
import { Size } from '../types.js';
import type { Same } from './same.js';

const Ms = z.number().describe('ms since the epoch');

const loginFields = {
  loggedIn: z.boolean(),
  state: z.string().nullable().describe("the caller's agent there: starting, connected, disconnected, stopping"),
  since: Ms.nullable(),
  expiresAt: Ms.nullable(),
};
export const TargetLoginAnswer = z.object(loginFields).strict();
export const OptionFieldAnswer = z.object({ name: z.string(), label: z.string(), type: z.enum(['integer', 'string']), hint: z.string() }).strict();
export const TargetViewAnswer = z
  .object({
    name: z.string(),
    driver: z.string(),
    title: z.string(),
    needsLogin: z.boolean(),
    host: z.string().nullable(),
    maxTimeSeconds: z.object({ sequential: z.number(), parallel: z.number() }).strict(),
    options: z.array(OptionFieldAnswer),
    login: TargetLoginAnswer.nullable(),
  })
  .strict()
  .meta({ id: 'Target', description: 'A place where runs go, and the caller’s login to it.' });
export const TargetsAnswer = z.object({ targets: z.array(TargetViewAnswer) }).strict();
export const TargetStatusAnswer = z
  .object({ ...loginFields, target: z.string(), title: z.string(), driver: z.string(), needsLogin: z.boolean(), host: z.string().nullable() })
  .strict()
  .meta({ id: 'TargetStatus' });
export const AgentLogAnswer = z.object({ logTail: z.string(), schedulerCommands: z.record(z.string(), z.number()) }).strict();

export const AgentViewAnswer = z
  .object({
    agentId: z.string(),
    user: z.string(),
    target: z.string(),
    size: Size.nullable(),
    driver: z.string(),
    host: z.string(),
    pool: z.string(),
    state: z.string(),
    since: Ms,
    lastHeartbeat: Ms.nullable(),
    runs: z.number().int(),
  })
  .strict();
export const AgentsAnswer = z.object({ agents: z.array(AgentViewAnswer) }).strict();
export const SlotUsageAnswer = z
  .object({ target: z.string(), driver: z.string(), pool: z.string(), size: Size, total: z.number().int(), used: z.number().int(), waiting: z.number().int() })
  .strict();
export const SlotsAnswer = z.object({ slots: z.array(SlotUsageAnswer) }).strict();

export const UploadViewAnswer = z
  .object({
    uploadId: z.string(),
    fileName: z.string(),
    mediaType: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    createdAt: Ms,
    expiresAt: Ms,
    inUse: z.boolean(),
  })
  .strict()
  .meta({ id: 'Upload', description: 'An uploaded input file; `inUse` once a run refers to it.' });
export const UploadsAnswer = z.object({ uploads: z.array(UploadViewAnswer) }).strict();

const usageFields = { bytes: z.number(), runs: z.number().int(), archivedBytes: z.number(), archivedRuns: z.number().int() };
export const TargetUsageAnswer = z.object({ target: z.string(), ...usageFields }).strict();
export const UserUsageAnswer = z.object({ user: z.string(), ...usageFields, targets: z.array(TargetUsageAnswer) }).strict().meta({ id: 'UserUsage' });
export const UsageAnswer = z.object({ usage: UserUsageAnswer }).strict();
export const UsersUsageAnswer = z.object({ users: z.array(UserUsageAnswer) }).strict();

export const AccountSettingsAnswer = z.object({ settings: z.object({ email: z.string().nullable(), notifyOnEnd: NotifyOnEnd }).strict() }).strict();

export const DeliveryViewAnswer = z
  .object({
    id: z.number().int(),
    jobId: z.string(),
    serial: z.number().int(),
    url: z.string(),
    state: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.array(z.object({ at: Ms, status: z.number().int().nullable(), error: z.string().nullable() }).strict()),
    nextAt: Ms.nullable(),
    createdAt: Ms,
  })
  .strict();
export const DeliveriesAnswer = z.object({ deliveries: z.array(DeliveryViewAnswer) }).strict();
export const LifetimeRowAnswer = z
  .object({ template: z.string(), target: z.string(), state: z.enum(['pending', 'running', 'finishing']), count: z.number().int(), medianMs: z.number(), p90Ms: z.number(), maxMs: z.number() })
  .strict();
export const LifetimesAnswer = z.object({ since: Ms, until: Ms, lifetimes: z.array(LifetimeRowAnswer) }).strict();

const SweptRun = z.object({ jobId: z.string(), user: z.string(), serial: z.number().int(), target: z.string(), bytes: z.number().optional(), reason: z.string().optional() }).strict();
/** supervisor/retention.ts SweepReport (the server may not import the supervisor: checked by the answers test instead). */
export const SweepAnswer = z
  .object({
    sweep: z
      .object({
        startedAt: Ms,
        endedAt: Ms,
        archived: z.array(SweptRun),
        purged: z.array(SweptRun),
        missing: z.array(SweptRun),
        measured: z.number().int(),
        unmeasured: z.number().int(),
        skipped: z.array(SweptRun),
        failed: z.array(SweptRun),
      })
      .strict(),
  })
  .strict();

const _login: Same<z.infer<typeof TargetLoginAnswer>, TargetLogin> = true;
const _option: Same<z.infer<typeof OptionFieldAnswer>, OptionField> = true;
const _target: Same<z.infer<typeof TargetViewAnswer>, TargetView> = true;
const _status: Same<z.infer<typeof TargetStatusAnswer>, TargetStatus> = true;
const _agentLog: Same<z.infer<typeof AgentLogAnswer>, AgentLog> = true;
const _agent: Same<z.infer<typeof AgentViewAnswer>, AgentView> = true;
const _slot: Same<z.infer<typeof SlotUsageAnswer>, SlotUsage> = true;
const _upload: Same<z.infer<typeof UploadViewAnswer>, UploadView> = true;
const _targetUsage: Same<z.infer<typeof TargetUsageAnswer>, TargetUsage> = true;
const _userUsage: Same<z.infer<typeof UserUsageAnswer>, UserUsage> = true;
const _settings: Same<z.infer<typeof AccountSettingsAnswer>['settings'], AccountSettings> = true;
const _delivery: Same<z.infer<typeof DeliveryViewAnswer>, DeliveryView> = true;
const _lifetime: Same<z.infer<typeof LifetimeRowAnswer>, LifetimeRow> = true;
