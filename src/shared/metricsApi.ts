/**
 * What the metrics and health routes answer (server: GET /metrics, /api/health/live,
 * /api/health/ready; supervisor: GET /metrics, /health/ready), declared once for both sides and
 * for the API description, and how a bearer token is compared.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** `GET /api/health/live`: the server process answers (nothing else is asked). */
export const LivenessAnswer = z.object({ ok: z.literal(true) }).strict();
export type LivenessAnswer = z.infer<typeof LivenessAnswer>;

/** The supervisor's `GET /health/ready`: its database answers (200), or why not (503). */
export const SupervisorReadiness = z.object({ ready: z.boolean(), database: z.enum(['ok', 'failed']), reason: z.string().optional() }).strict();
export type SupervisorReadiness = z.infer<typeof SupervisorReadiness>;

/**
 * `GET /api/health/ready`: 200 when the supervisor is reachable and its database answers; 503
 * otherwise, with which of them failed and why.
 */
export const ReadinessAnswer = z
  .object({
    ready: z.boolean(),
    supervisor: z.enum(['up', 'down']),
    /** `unknown` while the supervisor cannot be asked. */
    database: z.enum(['ok', 'failed', 'unknown']),
    reason: z.string().optional(),
  })
  .strict();
export type ReadinessAnswer = z.infer<typeof ReadinessAnswer>;

/** Who may read `GET /metrics` (setting metricsAccess). */
export type MetricsAccess = 'open' | 'admin' | 'token';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether an `Authorization` header carries `Bearer <expected>` (compared in constant time). */
export function bearerIs(authorization: string, expected: string | undefined): boolean {
  if (expected === undefined || !authorization.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(authorization.slice(7)), digest(expected));
}
