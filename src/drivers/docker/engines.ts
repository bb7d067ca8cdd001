/**
 * The Docker engines of the docker driver: a client per engine (local socket, or TCP with TLS
 * client certificates), whether it answers, and which engine a new agent goes to.
 * dockerode's errors are turned into sentences here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import type { DockerEngineConfig } from './settings.js';

export interface Engine {
  name: string;
  config: DockerEngineConfig;
  client: Docker;
}

const PING_TIMEOUT_MS = 3000;

export function connectEngine(config: DockerEngineConfig): Engine {
  if (config.socketPath) return { name: config.name, config, client: new Docker({ socketPath: config.socketPath }) };
  const dir = config.tlsDir as string;
  const read = (f: string) => {
    try {
      return readFileSync(path.join(dir, f));
    } catch {
      return undefined;
    }
  };
  const client = new Docker({ host: config.host, port: config.port, protocol: 'https', ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') });
  return { name: config.name, config, client };
}

/** Words for what went wrong talking to an engine. */
export function engineError(err: unknown): string {
  const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string; reason?: string };
  if (e.json?.message) return e.json.message;
  switch (e.code) {
    case 'ENOENT':
      return 'no engine at that socket';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'EACCES':
      return 'permission denied on the socket';
    case 'ETIMEDOUT':
      return 'timed out';
  }
  const msg = e.message ?? String(err);
  if (/certificate|SSL|TLS|alert|handshake/i.test(msg) || e.code?.startsWith('ERR_SSL') || e.code?.startsWith('ERR_TLS')) {
    return `TLS refused: ${msg}`;
  }
  return msg;
}

/** Undefined if the engine answers a ping in time; otherwise why not. */
export async function whyNotAnswering(engine: Engine): Promise<string | undefined> {
  if (engine.config.tlsDir) {
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) {
      try {
        readFileSync(path.join(engine.config.tlsDir, f));
      } catch {
        return `TLS file ${path.join(engine.config.tlsDir, f)} cannot be read`;
      }
    }
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      engine.client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('no answer within 3 s'), { code: 'ETIMEDOUT' })), PING_TIMEOUT_MS);
      }),
    ]);
    return undefined;
  } catch (err) {
    return engineError(err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The engine for a new agent of `user`: among engines that answer, the one already holding
 * one of the user's agents if it has a free slot, else the one with the most free slots.
 */
export function chooseEngine(answering: Engine[], freeSlots: (pool: string) => number, userEngines: Set<string>): Engine | undefined {
  const score = (e: Engine) => {
    const free = freeSlots(e.name);
    return [userEngines.has(e.name) && free > 0 ? 1 : 0, free] as const;
  };
  return [...answering].sort((a, b) => {
    const [ua, fa] = score(a);
    const [ub, fb] = score(b);
    return ub - ua || fb - fa;
  })[0];
}
