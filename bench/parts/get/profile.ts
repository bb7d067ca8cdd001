/**
 * Profiles the `get` part's proxied request alone (not part of `npm run bench`):
 *
 *   node dist/bench/parts/get/profile.js /tmp/prof [seconds] [path]
 *
 * starts a jobvisor with `--cpu-prof` on the server and the supervisor, makes one completed job,
 * loads `GET /api/jobs/<id>` (or `path`, e.g. /api/auth/me) through the server with 50
 * connections for `seconds` (default 10), stops, and leaves the two .cpuprofile files in
 * <dir>/server and <dir>/supervisor, then prints each one's self time by package and by function
 * (selfTime.ts). `path` = `direct` loads the supervisor's own `GET /jobs/<id>` instead (with the
 * shared secret and caller headers, as the server sends it).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { CALLER_ROLE_HEADER, CALLER_USER_HEADER } from '../../../src/shared/api.js';
import { formatSelfTime, selfTime } from './selfTime.js';
import { Stack } from './stack.js';
import { completedJob, userToken } from '../get.js';

const [dir = '/tmp/prof-get', secondsText = '10', route] = process.argv.slice(2);
const stack = new Stack({
  serverNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'server')}`],
  supervisorNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'supervisor')}`],
});
try {
  await stack.start();
  const token = await userToken(stack);
  const jobId = await completedJob(stack, token);
  const load =
    route === 'direct'
      ? { url: `${stack.supervisorUrl}/jobs/${jobId}`, headers: { authorization: `Bearer ${stack.secret}`, accept: 'application/json', [CALLER_USER_HEADER]: 'bench-get', [CALLER_ROLE_HEADER]: 'user' } }
      : { url: `${stack.serverUrl}${route ?? `/api/jobs/${jobId}`}`, headers: { authorization: `Bearer ${token}` } };
  const result = await autocannon({ ...load, connections: 50, duration: Number(secondsText) });
  process.stdout.write(`${(result.requests.total / result.duration).toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}\n`);
} finally {
  await stack.stop();
}
for (const proc of ['server', 'supervisor']) {
  const folder = path.join(dir, proc);
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.cpuprofile'))) {
    process.stdout.write(formatSelfTime(`${proc} (${path.join(folder, file)})`, selfTime(path.join(folder, file))));
  }
}
