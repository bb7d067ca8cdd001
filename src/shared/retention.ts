/**
 * Retention policies: how long a run's files stay as they are (`archiveAfter`: then they are
 * packed into one compressed archive) and how long they stay at all (`deleteAfter`: then they are
 * deleted and the run becomes `purged`, its record and parameters kept). Ages count from a run's
 * end. A policy per role (any role name a site uses), `default` for every other role. A duration
 * is a number and a unit: "10s", "15m", "12h", "30d"; an absent one means never.
 */
import { z } from 'zod';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const Duration = z
  .string()
  .regex(/^[0-9]{1,9}[smhd]$/, 'a duration such as "10s", "15m", "12h" or "30d"')
  .transform((d) => Number(d.slice(0, -1)) * UNIT_MS[d.slice(-1) as keyof typeof UNIT_MS]);

export const RetentionPolicy = z
  .object({ archiveAfter: Duration.optional(), deleteAfter: Duration.optional() })
  .strict();
/** A policy with its ages in milliseconds (undefined: never). */
export type RetentionPolicy = z.output<typeof RetentionPolicy>;

export const RetentionSettings = z
  .object({
    default: RetentionPolicy.default({}),
    roles: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'a role name'), RetentionPolicy).default({}),
  })
  .strict();
export type RetentionSettings = z.output<typeof RetentionSettings>;

/** The policy of a run whose owner had `role` when it was requested (null: a run of an older version, `default`). */
export function policyOf(settings: RetentionSettings, role: string | null): RetentionPolicy {
  return role !== null && Object.hasOwn(settings.roles, role) ? (settings.roles[role] as RetentionPolicy) : settings.default;
}

/** What a run's files are: as the run left them, packed into an archive, deleted by policy, or gone by other means. */
export const RUN_FILES = ['kept', 'archived', 'purged', 'missing'] as const;
export type RunFiles = (typeof RUN_FILES)[number];
