/**
 * An enrolled worker: an agent started by hand on any machine that reaches the supervisor,
 *
 *   jobvisor agent --enroll <supervisor url> --token-file F --labels os=linux,gpu=a100 --slots 4
 *                  [--name N] [--work-dir D] [--templates DIR] [--status-ms MS]
 *
 * (or `node jobvisor-agent.mjs --enroll ...` with the agent bundle alone). It joins the
 * `workers` target its enrollment token names, with a worker id kept in its work folder
 * (`worker.json`), and runs job cmds like a local agent (process engine), in
 * `<work dir>/runs/<user>/<job>/<serial>`, with the templates it runs in `<work dir>/templates`,
 * sent by the supervisor and kept by content hash (templateCache.ts); `--templates DIR` links it
 * to a copy of the worker's own instead. Cmds see JOBVISOR_WORKER_NAME and
 * JOBVISOR_WORKER_ID. It reconnects after link loss as every agent does; a refusal (token
 * unknown, revoked or expired; labels the token does not allow) ends it with exit code 1.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseLabelList } from '../shared/labels.js';
import type { Logger } from '../shared/logger.js';
import { WORKER_HEADER, WorkerClaim, type WorkerFree } from '../shared/protocol.js';
import { Agent } from './agent.js';

export const ENROLL_USAGE =
  'usage: jobvisor agent --enroll <supervisor url> --token-file FILE [--labels k=v,...] [--slots N] [--name NAME] [--work-dir DIR] [--templates DIR] [--status-ms MS]';

export interface EnrollOptions {
  url: string;
  token: string;
  labels: Record<string, string>;
  slots: number;
  name: string;
  workDir: string;
  templates: string | undefined;
  statusMs: number;
}

/** Reads the command line; throws with a message for the user (and the usage) on anything wrong. */
export function readEnrollArgs(argv: string[]): EnrollOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      enroll: { type: 'string' },
      'token-file': { type: 'string' },
      labels: { type: 'string', default: '' },
      slots: { type: 'string', default: '1' },
      name: { type: 'string' },
      'work-dir': { type: 'string', default: 'jobvisor-worker' },
      templates: { type: 'string' },
      'status-ms': { type: 'string', default: '10000' },
    },
  });
  const url = values.enroll ?? '';
  if (!/^(wss?|https?):\/\//.test(url)) throw new Error('--enroll needs the supervisor URL (ws://, wss://, http:// or https://)');
  if (!values['token-file']) throw new Error('--token-file FILE is needed (the file holds the enrollment token)');
  const token = readFileSync(values['token-file'], 'utf8').split('\n')[0]?.trim() ?? '';
  if (!token) throw new Error(`the token file ${values['token-file']} is empty`);
  const slots = Number(values.slots);
  if (!Number.isInteger(slots) || slots < 1 || slots > 10_000) throw new Error('--slots must be a whole number from 1 to 10000');
  const statusMs = Number(values['status-ms']);
  if (!Number.isInteger(statusMs) || statusMs < 100) throw new Error('--status-ms must be a whole number of milliseconds, 100 or more');
  const name = values.name ?? os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new Error('--name: letters, digits, "_", "." and "-", starting with a letter or digit');
  return {
    url: url.replace(/^http/, 'ws').replace(/\/agent\/?$/, '').replace(/\/$/, ''),
    token,
    labels: parseLabelList(values.labels),
    slots,
    name,
    workDir: path.resolve(values['work-dir']),
    templates: values.templates === undefined ? undefined : path.resolve(values.templates),
    statusMs,
  };
}

/** The worker's id, made once and kept in its work folder. */
function workerId(workDir: string): string {
  const file = path.join(workDir, 'worker.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown };
    if (typeof saved.id === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(saved.id)) return saved.id;
  }
  const id = randomBytes(12).toString('base64url');
  writeFileSync(file, JSON.stringify({ id }) + '\n', { mode: 0o600 });
  return id;
}

/**
 * `<work dir>/templates`: a link to the templates folder given (`--templates DIR`, the worker's
 * own copy), or else a folder the supervisor fills with the templates this worker runs
 * (templateCache.ts). Whether it is the worker's own copy.
 */
function linkTemplates(workDir: string, templates: string | undefined, log: Logger): boolean {
  const link = path.join(workDir, 'templates');
  if (templates === undefined) {
    // An earlier start's --templates link: the supervisor's copies go in a folder of their own.
    if (isLink(link)) rmSync(link);
    mkdirSync(link, { recursive: true });
    log.info({ dir: link }, 'templates come from the supervisor (give --templates DIR to run a copy of your own)');
    return false;
  }
  if (existsSync(link) || isLink(link)) {
    if (!isLink(link) && !onlySupervisorCopies(link)) throw new Error(`${link} exists and is not a link: remove it, or leave out --templates`);
    rmSync(link, { recursive: true, force: true });
  }
  symlinkSync(templates, link);
  return true;
}

/** A templates folder that holds nothing but what the supervisor sent (each template's folder with its hashes file). */
function onlySupervisorCopies(dir: string): boolean {
  return readdirSync(dir).every((e) => e === '.jobvisor-incoming' || existsSync(path.join(dir, e, '.jobvisor-files.json')));
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Cores not busy (by the 1-minute load) and memory free, as this machine says now. */
export function freeResources(): WorkerFree {
  const cores = Math.max(0, os.availableParallelism() - (os.loadavg()[0] ?? 0));
  return { cores: Math.round(cores * 10) / 10, memoryMb: Math.floor(os.freemem() / (1024 * 1024)) };
}

/** Runs an enrolled worker until it is stopped or refused; the refusal's reason, if it was. */
export async function runEnrolledAgent(o: EnrollOptions, log: Logger): Promise<string | null> {
  mkdirSync(path.join(o.workDir, 'runs'), { recursive: true });
  process.chdir(o.workDir);
  const ownTemplates = linkTemplates(o.workDir, o.templates, log);
  const id = workerId(o.workDir);
  const session = randomBytes(9).toString('base64url');
  const claim = (): WorkerClaim => ({ name: o.name, labels: o.labels, slots: o.slots, session, host: os.hostname().slice(0, 255), free: freeResources() });
  process.env.JOBVISOR_WORKER_NAME = o.name;
  process.env.JOBVISOR_WORKER_ID = id;
  const headers = { [WORKER_HEADER]: Buffer.from(JSON.stringify(WorkerClaim.parse(claim()))).toString('base64url') };
  const wlog = log.child({ workerId: id, worker: o.name });
  const agent = new Agent({
    agentId: id,
    token: o.token,
    url: o.url,
    log: wlog,
    // A worker started by hand keeps trying to reach its supervisor, however long it is away.
    orphanMs: Number.MAX_SAFE_INTEGER,
    worker: { headers, free: freeResources, intervalMs: o.statusMs, templates: { dir: path.join(o.workDir, 'templates'), override: ownTemplates } },
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void agent.stop(`received ${sig}`));
  wlog.info({ url: o.url, labels: o.labels, slots: o.slots, workDir: o.workDir }, 'worker starting');
  await agent.run();
  return agent.refused;
}
