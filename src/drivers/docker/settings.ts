/**
 * Settings of a docker target (`{"name": ..., "driver": "docker", ...}` in `targets`). Checked
 * at start-up, before any container starts: image registries the site allows, host mounts
 * under allowed roots, sane limits.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { Labels } from '../../shared/labels.js';
import { NAME_PATTERN } from '../../shared/types.js';
import { targetFields } from '../targetSettings.js';

const Limits = z
  .object({
    cpus: z.number().positive().max(1024).default(1),
    memoryMb: z.number().int().min(16).default(2048),
    shmMb: z.number().int().positive().optional(),
    gpus: z.number().int().min(0).default(0),
  })
  .strict();
export type DockerLimits = z.infer<typeof Limits>;

const cores = Math.max(1, os.availableParallelism());

const Engine = z
  .object({
    name: z.string().regex(NAME_PATTERN),
    /** A local engine's unix socket. */
    socketPath: z.string().min(1).optional(),
    /** A remote engine over TCP, with TLS client certificates in tlsDir (ca.pem, cert.pem, key.pem). */
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).default(2376),
    tlsDir: z.string().min(1).optional(),
    /** CPU slots of this engine per size (default: the target's `sizes`, else the site's). */
    slots: z.object({ sequential: z.number().int().positive(), parallel: z.number().int().positive() }).strict().optional(),
    /** What this engine offers runs that state `requires` (a GPU, a licensed code), over the target's `labels`. */
    labels: Labels.optional(),
  })
  .strict()
  .refine((e) => (e.socketPath === undefined) !== (e.host === undefined), 'an engine has either socketPath or host, not both')
  .refine((e) => e.host === undefined || e.tlsDir !== undefined, 'a TCP engine needs tlsDir (client certificates); plain TCP is refused');
export type DockerEngineConfig = z.infer<typeof Engine>;

const Mount = z.object({ host: z.string().startsWith('/'), container: z.string().startsWith('/'), readOnly: z.boolean().default(true) }).strict();

export const DockerSettings = z
  .object({
    ...targetFields('docker'),
    engines: z.array(Engine).min(1).default([{ name: 'local', socketPath: '/var/run/docker.sock', port: 2376 }]),
    images: z.object({ sequential: z.string().min(1), parallel: z.string().min(1) }).strict().default({ sequential: 'jobvisor-agent:latest', parallel: 'jobvisor-agent:latest' }),
    limits: z.object({ sequential: Limits, parallel: Limits }).strict().default({ sequential: { cpus: 1, memoryMb: 2048, gpus: 0 }, parallel: { cpus: cores, memoryMb: 4096, gpus: 0 } }),
    uid: z.number().int().min(0).default(1000),
    gid: z.number().int().min(0).default(1000),
    /** `host` lets agents reach the supervisor on loopback; any other name is an existing Docker network. */
    network: z.string().min(1).default('host'),
    /** Extra host folders mounted into every agent container; each must be under an allowed root. */
    mounts: z.array(Mount).default([]),
    allowedHostRoots: z.array(z.string().startsWith('/')).default([]),
    /** Registries an image may name (e.g. registry.example.org:5000); images without a registry are local. */
    allowedRegistries: z.array(z.string().min(1)).default([]),
    stopTimeoutSeconds: z.number().int().min(0).max(300).default(10),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = c.engines.map((e) => e.name);
    if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', message: 'engine names must differ', path: ['engines'] });
    for (const [mode, image] of Object.entries(c.images)) {
      const registry = imageRegistry(image);
      if (registry && !c.allowedRegistries.includes(registry)) {
        ctx.addIssue({ code: 'custom', path: ['images', mode], message: `image ${image} names registry ${registry}, which allowedRegistries does not list` });
      }
    }
    c.mounts.forEach((m, i) => {
      if (!underAllowedRoot(m.host, c.allowedHostRoots)) {
        ctx.addIssue({ code: 'custom', path: ['mounts', i, 'host'], message: `host path ${m.host} is outside the allowed roots (${c.allowedHostRoots.join(', ') || 'none'})` });
      }
    });
  });
export type DockerSettings = z.infer<typeof DockerSettings>;

/** The registry an image name names, if any: its first component when that holds a dot or a port, or is localhost. */
export function imageRegistry(image: string): string | undefined {
  const first = image.split('/')[0] ?? '';
  if (!image.includes('/')) return undefined;
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

export function underAllowedRoot(hostPath: string, roots: string[]): boolean {
  const p = path.resolve(hostPath);
  return roots.some((r) => {
    const root = path.resolve(r);
    return p === root || p.startsWith(root + path.sep);
  });
}
