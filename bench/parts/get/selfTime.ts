/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and says where the time went: self time by
 * function and by package (a node_modules package, a node: module, a file of ours), as shares
 * of the time the process was busy (idle samples left out). Used by profile.ts; also on its own:
 *
 *   node dist/bench/parts/get/selfTime.js <file.cpuprofile> [top]
 *
 * Self time of a native function (`writev`, `writeLatin1String`) is mostly its system call; on
 * a crowded machine it also holds the time the process was descheduled inside it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds since the previous sample, one per sample. */
  timeDeltas: number[];
}

export interface SelfTime {
  busyMs: number;
  idleMs: number;
  /** [name, share of busy time], largest first. */
  byFunction: Array<[string, number]>;
  byPackage: Array<[string, number]>;
}

export function selfTime(file: string, top = 25): SelfTime {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id)?.callFrame;
    const us = profile.timeDeltas[i] ?? 0;
    if (frame === undefined) return;
    if (frame.functionName === '(idle)') {
      idle += us;
      return;
    }
    busy += us;
    add(byFunction, frame.url === '' ? frame.functionName : `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`, us);
    add(byPackage, packageOf(frame.url, frame.functionName), us);
  });
  const shares = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]): [string, number] => [k, busy > 0 ? us / busy : 0]);
  return { busyMs: busy / 1000, idleMs: idle / 1000, byFunction: shares(byFunction), byPackage: shares(byPackage) };
}

/** The lines profile.ts prints for one profile. */
export function formatSelfTime(title: string, t: SelfTime): string {
  const rows = (list: Array<[string, number]>) => list.map(([k, share]) => `  ${(share * 100).toFixed(1).padStart(5)} %  ${k}`).join('\n');
  return `${title}: busy ${t.busyMs.toFixed(0)} ms, idle ${t.idleMs.toFixed(0)} ms\n self time by package:\n${rows(t.byPackage)}\n self time by function:\n${rows(t.byFunction)}\n`;
}

function add(m: Map<string, number>, key: string, us: number): void {
  m.set(key, (m.get(key) ?? 0) + us);
}

/** The last two parts of a file URL: enough to tell `server/routes.js` from `koa/lib/response.js`. */
function shortUrl(url: string): string {
  return url.split('/').slice(-2).join('/');
}

/** `koa`, `@koa/router`, `node:_http_outgoing`, `src/server/routes.js`, or a native function's own name. */
function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName;
  const dependency = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency?.[1]) return dependency[1];
  if (url.startsWith('node:')) return url.startsWith('node:internal/streams') ? 'node:streams' : url.split('/').slice(0, 2).join('/');
  const ours = url.split('/dist/')[1];
  return ours ?? url;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top = '25'] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: selfTime.js <file.cpuprofile> [top]');
  process.stdout.write(formatSelfTime(file, selfTime(file, Number(top))));
}
