/**
 * Settings every target has, whatever its backend: its name, its driver, a title, and per size
 * its CPU slots and longest run. A backend's settings schema is built from these plus its own.
 */
import { z } from 'zod';
import type { Config } from '../shared/config.js';
import { Name, SIZES, type Size } from '../shared/types.js';
import { Labels } from '../shared/labels.js';

const SizeLimits = z
  .object({
    slots: z.number().int().positive().max(100_000).optional(),
    maxTimeSeconds: z.number().int().positive().optional(),
  })
  .strict();

/** `sizes: {sequential?: {slots?, maxTimeSeconds?}, parallel?: {...}}`. */
export const SizesSettings = z.object({ sequential: SizeLimits.optional(), parallel: SizeLimits.optional() }).strict().default({});
export type SizesSettings = z.infer<typeof SizesSettings>;

/** The fields of the config's target object every backend reads: `driver` must be the backend's own name. */
export function targetFields<K extends string>(kind: K) {
  return {
    name: Name,
    driver: z.literal(kind),
    title: z.string().min(1).max(100).optional(),
    sizes: SizesSettings,
    /** What the target offers runs that state `requires` (src/shared/labels.ts); read by the supervisor, not the backend. */
    labels: Labels.optional(),
  };
}

export interface SizeLimitsResolved {
  slots: number;
  maxTimeSeconds: number;
}

/** Each size's slots and longest run: the target's own, else the site's (slotsSequential, maxTimeParallel, ...). */
export function resolveSizes(sizes: SizesSettings, config: Pick<Config, 'slotsSequential' | 'slotsParallel' | 'maxTimeSequential' | 'maxTimeParallel'>): Record<Size, SizeLimitsResolved> {
  const site: Record<Size, SizeLimitsResolved> = {
    sequential: { slots: config.slotsSequential, maxTimeSeconds: config.maxTimeSequential },
    parallel: { slots: config.slotsParallel, maxTimeSeconds: config.maxTimeParallel },
  };
  return Object.fromEntries(SIZES.map((s) => [s, { ...site[s], ...dropUndefined(sizes[s] ?? {}) }])) as Record<Size, SizeLimitsResolved>;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
