/**
 * The scheduler modules the batch engine knows, one line each, by the name run ops give. Each
 * module lives in its backend's folder (src/drivers/<backend>/scheduler.ts) and imports only
 * shared/, so the agent bundle carries no supervisor code.
 */
import type { Scheduler } from '../../shared/scheduler.js';
import { sgeScheduler } from '../../drivers/sge/scheduler.js';
import { slurmScheduler } from '../../drivers/slurm/scheduler.js';

export const SCHEDULERS: ReadonlyMap<string, Scheduler> = new Map([slurmScheduler, sgeScheduler].map((s) => [s.name, s]));
