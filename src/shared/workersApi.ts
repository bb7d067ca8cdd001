/**
 * HTTP bodies and answers of enrolled workers (admin routes): enrollment tokens and the
 * workers that joined with them. Declared once for the server and the supervisor.
 */
import { z } from 'zod';
import { AllowedLabels, type Labels } from './labels.js';
import { Name } from './types.js';

/** POST /api/admin/enrollments: a token for workers of one `workers` target. */
export const EnrollmentBody = z
  .object({
    name: Name,
    /** The `workers` target its workers join (default: the first `workers` target). */
    target: Name.optional(),
    /** The labels its workers may claim: a worker claiming another label, or another value, is refused (value "*": any value). Unset: any labels. */
    labels: AllowedLabels.optional(),
    /** Whose runs its workers take (default: everyone's). */
    users: z.array(Name).min(1).max(1000).optional(),
    /** When the token stops working (ms since the epoch, or an ISO date). */
    expiresAt: z.union([z.number().int().positive(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))]).optional(),
  })
  .strict();
export type EnrollmentBody = z.infer<typeof EnrollmentBody>;

export interface EnrollmentView {
  id: string;
  name: string;
  target: string;
  labels: Labels | null;
  users: string[] | null;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Workers that joined with it and are connected now. */
  connectedWorkers: number;
}

export interface WorkerView {
  id: string;
  name: string;
  target: string;
  enrollment: string;
  /** The id of its enrollment token, and whether that token was revoked (its workers are refused for good). */
  enrollmentId: string;
  revoked: boolean;
  host: string;
  labels: Labels;
  slots: { used: number; total: number };
  /** Free resources the worker last reported. */
  free: { cores: number; memoryMb: number } | null;
  /** Runs placed on it now (job ids). */
  runs: string[];
  connected: boolean;
  lastHeartbeat: number | null;
  /** Connected, but no heartbeat for more than 3 heartbeat intervals. */
  stale: boolean;
}

/** POST /api/admin/enrollments (201): the token, in this answer only, and the URL its workers connect to (`--enroll`). */
export interface EnrollmentCreated {
  enrollment: EnrollmentView;
  token: string;
  agentUrl: string | null;
}
/** GET /api/admin/enrollments. */
export interface EnrollmentList {
  enrollments: EnrollmentView[];
  agentUrl: string | null;
}
/** DELETE /api/admin/enrollments/:id: the revoked token, and how many workers it disconnected. */
export interface EnrollmentRevoked {
  enrollment: EnrollmentView;
  disconnected: number;
}
