/**
 * Schedules in the HTTP API (`/api/schedules`): the bodies of create and edit, and what a
 * schedule looks like to its owner. A schedule runs a template with its parameters on a
 * target, at the times of a cron expression (in a time zone) or every `intervalSeconds`.
 */
import { z } from 'zod';
import { RunOptions } from './api.js';
import { Name, Size } from './types.js';

/** A point in time: epoch milliseconds, or an ISO 8601 text (read as milliseconds). */
export const Instant = z.union([
  z.number().int().min(0),
  z
    .string()
    .max(64)
    .refine((s) => /^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s)), 'an ISO 8601 date and time, e.g. 2026-12-01T09:00:00Z')
    .transform((s) => Date.parse(s)),
]);

export const MISSED_POLICIES = ['skip', 'runOnce'] as const;
export const MissedPolicy = z.enum(MISSED_POLICIES);
export type MissedPolicy = z.infer<typeof MissedPolicy>;

const fields = {
  name: Name.optional(),
  template: z.string().min(1).max(64),
  parameters: z.record(z.string(), z.unknown()).optional(),
  target: Name.optional(),
  size: Size.optional(),
  options: RunOptions.optional(),
  callbackUrl: z.url({ protocol: /^https?$/ }).max(2000).optional(),
  cron: z.string().min(1).max(200).optional(),
  timezone: z.string().min(1).max(64).optional(),
  intervalSeconds: z.number().int().positive().max(366 * 86_400).optional(),
  startAt: Instant.nullable().optional(),
  endAt: Instant.nullable().optional(),
  missed: MissedPolicy.optional(),
};

/** `POST /api/schedules`. Either `cron` (with `timezone`, default UTC) or `intervalSeconds`. */
export const ScheduleBody = z.object(fields).strict();
export type ScheduleBody = z.infer<typeof ScheduleBody>;

/** `PATCH /api/schedules/:id`: any field of a schedule; `startAt`/`endAt` null clears them; `cron` replaces an interval and the other way round. */
export const SchedulePatch = z.object(fields).partial().strict();
export type SchedulePatch = z.infer<typeof SchedulePatch>;

export const SchedulesQuery = z.object({ all: z.enum(['0', '1', 'true', 'false']).optional() });
export const FiringsQuery = z.object({ limit: z.coerce.number().int().positive().max(1000).default(100) });

export type ScheduleState = 'active' | 'paused' | 'ended';

export interface ScheduleView {
  scheduleId: string;
  user: string;
  name: string;
  template: string;
  parameters: Record<string, unknown>;
  target: string | null;
  size: Size | null;
  options: RunOptions | null;
  callbackUrl: string | null;
  cron: string | null;
  timezone: string;
  intervalSeconds: number | null;
  startAt: number | null;
  endAt: number | null;
  missed: MissedPolicy;
  state: ScheduleState;
  /** The next (up to 5) firing times, epoch ms; none while paused or ended. */
  nextFirings: number[];
  /** The time (epoch ms) of the last firing, when it fired, the job it ran, and why it could not run (null: it ran). */
  lastFireTime: number | null;
  lastFiredAt: number | null;
  lastJobId: string | null;
  lastError: string | null;
  /** How many firing times were passed over (missed while down, or late) and not run. */
  skipped: number;
  createdAt: number;
  updatedAt: number;
}

/** One firing: its time, when it fired, the job it ran (or the error that kept it from running). */
export interface FiringView {
  fireTime: number;
  firedAt: number;
  jobId: string | null;
  jobKey: string;
  error: string | null;
  /** `onTime`, or `missed` (a runOnce firing for a time the supervisor was down at). */
  kind: 'onTime' | 'missed';
}
