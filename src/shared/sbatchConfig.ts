/**
 * Settings of the sbatch driver (the `sbatch` setting: a JSON object in the config file, or
 * JSON in JOBVISOR_SBATCH): the cluster's login node, how its host key is known, where
 * jobvisor keeps its files there, the batch script template, Slurm defaults and limits.
 * Also the Slurm options a run may ask for, validated so that no value can inject a directive
 * or a command into the batch script.
 */
import { z } from 'zod';

/** A value that goes into a `#SBATCH` line: no spaces, quotes, newlines or shell characters. */
const SLURM_VALUE = /^[A-Za-z0-9_.,:@%+=/-]{1,128}$/;
export const SlurmValue = z.string().regex(SLURM_VALUE, 'letters, digits and _.,:@%+=/- only (no spaces, quotes or newlines)');
const Directive = z.string().regex(/^#SBATCH --[A-Za-z-]+(=[A-Za-z0-9_.,:@%+=/-]+)?$/, 'one "#SBATCH --name[=value]" line');

export const SlurmOptions = z
  .object({
    partition: SlurmValue.optional(),
    qos: SlurmValue.optional(),
    account: SlurmValue.optional(),
    constraint: SlurmValue.optional(),
    nodes: z.number().int().positive().optional(),
    tasksPerNode: z.number().int().positive().optional(),
    cpusPerTask: z.number().int().positive().optional(),
    minutes: z.number().int().positive().optional(),
  })
  .strict();
export type SlurmOptions = z.infer<typeof SlurmOptions>;

export const SbatchConfig = z
  .object({
    /** The login node, as jobvisor reaches it over SSH. */
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    /** known_hosts lines for the login node; a host key not listed is refused. */
    knownHosts: z.array(z.string().min(1)).min(1),
    /** jobvisor's folder on the cluster, relative to the user's home unless absolute. */
    remoteDir: z.string().regex(/^[A-Za-z0-9_./~-]+$/).default('jobvisor'),
    nodePath: z.string().regex(/^[A-Za-z0-9_./-]+$/).default('node'),
    /** The websocket URL agents on the cluster use to reach the supervisor (default: the supervisor's own). */
    agentUrl: z.url().optional(),
    /** The batch script template (default sbatch/job.sh.template of jobvisor). */
    scriptTemplate: z.string().min(1).optional(),
    defaults: SlurmOptions.default({}),
    /** Site-specific lines added to every batch script. */
    extraDirectives: z.array(Directive).default([]),
    limits: z.object({ maxNodes: z.number().int().positive().default(1), maxMinutes: z.number().int().positive().default(24 * 60) }).strict().default({ maxNodes: 1, maxMinutes: 24 * 60 }),
    /** Runs a user may have submitted at once (the CPU slots of the cluster pool). */
    slots: z.number().int().positive().default(100),
    pollIntervalMs: z.number().int().min(200).default(5000),
    /** How long a job stays in its state, marked unconfirmed, while Slurm cannot be asked. */
    unconfirmedGraceMs: z.number().int().positive().default(10 * 60_000),
    /** A login lasts this long; then the user must log in again. */
    loginHours: z.number().positive().default(12),
    /** An agent whose websocket stays down this long is taken for lost (its Slurm jobs wait for a new login). */
    lostAfterMs: z.number().int().positive().default(60_000),
    connectTimeoutMs: z.number().int().positive().default(20_000),
  })
  .strict();
export type SbatchConfig = z.infer<typeof SbatchConfig>;

/** What a user gives to log in: password and one-time code, or a private key. */
export const ClusterLoginBody = z
  .object({
    username: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a cluster user name'),
    password: z.string().min(1).max(1024).optional(),
    otp: z.string().regex(/^[0-9]{6,8}$/, '6 to 8 digits').optional(),
    privateKey: z.string().min(1).max(16_384).optional(),
    passphrase: z.string().max(1024).optional(),
  })
  .strict()
  .refine((b) => b.privateKey !== undefined || b.password !== undefined, 'give a password (and one-time code) or a private key');
export type ClusterLoginBody = z.infer<typeof ClusterLoginBody>;
