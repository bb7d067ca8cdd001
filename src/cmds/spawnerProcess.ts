/**
 * The spawner process's own code (see spawner.ts). It runs as `node -e <source>`: a fresh Node
 * with nothing loaded but node:child_process, so that its fork() of each cmd copies the page
 * tables of a ~40 MB process instead of those of the agent (~90 MB, and growing with its heap).
 *
 * The function must stay self-contained: spawner.ts sends its text (`spawnerMain.toString()`)
 * to the new process, so it may use nothing from this module or any other, only what it is
 * given (`req`: the `require` of the `-e` script). Its messages (over Node's IPC channel, with
 * the `advanced` serialization so that output chunks go as bytes):
 *
 *   agent -> spawner  { t: 'env', env }                 the environment of the cmds that follow
 *                     { t: 'spawn', id, cmd, args, cwd, groupsDir? } start a cmd in its own process
 *                                                      group (recorded in groupsDir, if given)
 *   spawner -> agent  { t: 'spawned', id, pid, groupProblem? } | { t: 'error', id, message }
 *                     { t: 'out', id, fd: 1 | 2, data } | { t: 'end', id, fd: 1 | 2 }
 *                     { t: 'exit', id, code, signal }
 *
 * The spawner's replies of one turn of its event loop go as one IPC message, an array of them
 * in order (`SpawnerReply[]`): a trivial cmd's `end`, `end` and `exit` (and, under load, the next
 * cmd's `spawned`) were a pipe write each in the spawner and a message to parse in the agent.
 * Every message of one cmd comes in the order it happened. The spawner ends when the agent's end
 * of the channel closes (the agent ended, however it ended); its cmds go on, in their own process
 * groups, exactly as they do when an agent that spawned them itself dies.
 */
export type SpawnerRequest = { t: 'env'; env: NodeJS.ProcessEnv } | { t: 'spawn'; id: number; cmd: string; args: string[]; cwd: string; groupsDir?: string };
export type SpawnerReply =
  | { t: 'spawned'; id: number; pid: number; groupProblem?: string }
  | { t: 'error'; id: number; message: string }
  | { t: 'out'; id: number; fd: 1 | 2; data: Uint8Array }
  | { t: 'end'; id: number; fd: 1 | 2 }
  | { t: 'exit'; id: number; code: number | null; signal: string | null };

export function spawnerMain(req: (id: string) => unknown): void {
  const { spawn } = req('node:child_process') as typeof import('node:child_process');
  const fs = req('node:fs') as typeof import('node:fs');
  /** Added to each cmd's out-of-memory badness (-1000..1000; raising it needs no privilege). */
  const CMD_OOM_SCORE_ADJ = 500;
  /** What agent/cmdGroups.ts records for a cmd's group: `<dir>/<pgid>` holding the leader's start time (field 22 of /proc/<pid>/stat). */
  const recordGroup = (dir: string, pid: number): string | undefined => {
    let started = '';
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
    } catch {
      /* no /proc */
    }
    const file = `${dir}/${pid}`;
    try {
      try {
        fs.writeFileSync(file, `${started}\n`);
      } catch {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(file, `${started}\n`);
      }
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  let env: NodeJS.ProcessEnv = process.env;
  // Replies wait for the end of the turn (setImmediate runs after the I/O callbacks of this
  // loop iteration), then go in one message: one serialisation and one write for all of them.
  let queued: SpawnerReply[] = [];
  const flush = () => {
    const batch = queued;
    queued = [];
    if (process.connected) process.send?.(batch);
  };
  const send = (m: SpawnerReply) => {
    if (queued.push(m) === 1) setImmediate(flush);
  };
  process.on('message', (m: SpawnerRequest) => {
    if (m.t === 'env') {
      env = m.env;
      return;
    }
    const { id } = m;
    let child;
    try {
      child = spawn(m.cmd, m.args, { cwd: m.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      send({ t: 'error', id, message: (err as Error).message });
      return;
    }
    let started = false;
    child.once('spawn', () => {
      started = true;
      const pid = child.pid as number;
      // Out of memory, the kernel ends a cmd before the agent or this spawner (a cmd's children
      // inherit it): the run then ends as killed for its memory, and the agent goes on.
      try {
        fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(CMD_OOM_SCORE_ADJ));
      } catch {
        // Gone already, or no /proc: nothing to prefer.
      }
      // Recorded before the agent hears of the cmd, as the agent did it itself (see agent/cmdGroups.ts).
      const groupProblem = m.groupsDir === undefined ? undefined : recordGroup(m.groupsDir, pid);
      send({ t: 'spawned', id, pid, ...(groupProblem === undefined ? {} : { groupProblem }) });
    });
    child.once('error', (err) => {
      if (!started) send({ t: 'error', id, message: err.message });
    });
    for (const fd of [1, 2] as const) {
      const stream = fd === 1 ? child.stdout : child.stderr;
      stream?.on('data', (data: Buffer) => send({ t: 'out', id, fd, data }));
      stream?.once('close', () => send({ t: 'end', id, fd }));
    }
    child.once('exit', (code, signal) => send({ t: 'exit', id, code, signal }));
  });
  process.once('disconnect', () => process.exit(0));
}
