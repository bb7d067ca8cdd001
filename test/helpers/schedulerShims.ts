/**
 * Scheduler commands that fail on demand, for outage tests: shims of a scheduler's commands in a
 * folder on the login node that only the test's own targets put first in their PATH
 * (`schedulerPath`), so the shared daemons stay up for every other test file. While the flag
 * file exists each shim runs its failing snippet; otherwise it runs the real command.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterInfo, ClusterKind } from './cluster.js';

const shQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A shim snippet that prints `text` on stderr and fails, as the real command does when it cannot reach its scheduler. */
export const failWith = (text: string) => `printf '%s\\n' ${shQuote(text)} >&2; exit 1`;

/** The shims of one scheduler under `~/<remoteDir>/shims-<kind>/`; `commands` maps each command to the shell snippet it runs while down. */
export function schedulerShims(cluster: ClusterInfo, kind: ClusterKind, remoteDir: string, commands: Record<string, string>) {
  const dir = `/home/${cluster.user}/${remoteDir}/shims-${kind}`;
  const flag = `${dir}/down`;
  return {
    dir,
    install() {
      mkdirSync(dir, { recursive: true });
      for (const [command, failing] of Object.entries(commands)) {
        writeFileSync(path.join(dir, command), `#!/bin/sh\n# jobvisor test shim (test/helpers/schedulerShims.ts)\nif [ -e '${flag}' ]; then ${failing}; fi\nexec /usr/bin/${command} "$@"\n`, { mode: 0o755 });
      }
      execFileSync('chown', ['-R', `${cluster.user}:${cluster.user}`, `/home/${cluster.user}/${remoteDir}`]);
    },
    down: () => writeFileSync(flag, ''),
    up: () => rmSync(flag, { force: true }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
