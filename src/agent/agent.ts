/**
 * The agent: executes the ops its supervisor sends, runs job cmds as subprocesses, and streams
 * their status, progress and log lines back as numbered updates. Cmds keep running while the
 * connection is down; the outbox delivers what could not be sent once it is back.
 */
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { PROTOCOL_VERSION, type AgentMessage, type Op, type SupervisorMessage, type Update } from '../shared/protocol.js';
import { runAnalysis } from '../cmds/analysis.js';
import { listRunFiles, readRunFile } from '../cmds/files.js';
import { RunningCmd } from '../cmds/runCommand.js';
import { prepareRunDir, resolveInRunDir } from '../cmds/runDir.js';
import { Connection } from './connection.js';
import { Outbox } from './outbox.js';
import { SlurmRuns } from './slurmRuns.js';
import { slurmCommandCounts } from '../cmds/slurm.js';
import { readFile } from 'node:fs/promises';

export interface AgentOptions {
  agentId: string;
  token: string;
  url: string;
  log: Logger;
  /** Milliseconds without a supervisor ping before the connection is made again. */
  silenceMs?: number;
  /** With no cmd running and no supervisor for this long, the agent ends itself. */
  orphanMs?: number;
  /** Log lines and progress are sent in batches at most this often. */
  flushMs?: number;
  /** Slurm runs: how often squeue is asked, and how long a state may stay unconfirmed. */
  slurm?: { pollIntervalMs: number; unconfirmedGraceMs: number };
  /** The agent's own log file, if it has one (shown to users for diagnosis). */
  logFile?: string;
}

interface Run {
  jobId: string;
  serial: number;
  cmd: RunningCmd | null;
  /** Sequence number of the run's exit update, once sent. */
  exitSeq: number | null;
  lines: string[];
  progress: { value: number; message?: string } | null;
}

const MAX_BATCH_LINES = 2000;
const SAFE_ROOT = /^[A-Za-z0-9_./-]+$/;

/** Paths and scripts may name the agent's own folder as `{{root}}` (sbatch agents): filled here. */
function withRoot(op: Op): Op {
  const text = JSON.stringify(op);
  if (!text.includes('{{root}}')) return op;
  const root = process.cwd();
  if (!SAFE_ROOT.test(root)) throw new JobvisorError('AGENT_PROTOCOL', `the agent's folder ${root} has characters batch scripts cannot hold`);
  return JSON.parse(text.replaceAll('{{root}}', root)) as Op;
}

export class Agent {
  private readonly outbox = new Outbox();
  private readonly runs = new Map<string, Run>();
  private readonly conn: Connection;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly orphanTimer: NodeJS.Timeout;
  private readonly cmdEnv: NodeJS.ProcessEnv;
  private readonly slurm: SlurmRuns;
  private ended: Promise<void> | null = null;

  constructor(private readonly opts: AgentOptions) {
    const { JOBVISOR_AGENT_ID: _id, JOBVISOR_AGENT_URL: _url, ...env } = process.env;
    this.cmdEnv = env;
    this.conn = new Connection({
      url: opts.url,
      agentId: opts.agentId,
      token: opts.token,
      log: opts.log,
      silenceMs: opts.silenceMs ?? 60_000,
      onOpen: () => [this.hello(), ...this.outbox.pending()],
      onMessage: (m) => this.receive(m),
      onRefused: (why) => void this.stop(`refused: ${why}`),
    });
    this.flushTimer = setInterval(() => this.flushAll(), opts.flushMs ?? 100);
    this.slurm = new SlurmRuns((jobId, serial, update) => this.pushFor(jobId, serial, update), {
      pollIntervalMs: opts.slurm?.pollIntervalMs ?? 5000,
      unconfirmedGraceMs: opts.slurm?.unconfirmedGraceMs ?? 600_000,
      log: opts.log,
    });
    const orphanMs = opts.orphanMs ?? 10 * 60_000;
    this.orphanTimer = setInterval(() => {
      const lost = this.conn.lostSince;
      const busy = [...this.runs.values()].some((r) => r.cmd?.running) || this.slurm.list().some((r) => r.running);
      if (lost !== null && Date.now() - lost > orphanMs && !busy) {
        void this.stop(`no supervisor for ${Math.round(orphanMs / 1000)} s and nothing running`);
      }
    }, Math.min(orphanMs, 5000));
  }

  /** Connects and serves until stopped. */
  async run(): Promise<void> {
    await this.conn.run();
    await this.ended;
  }

  /** Ends every cmd (their whole process groups), then the connection. */
  stop(why: string): Promise<void> {
    this.ended ??= (async () => {
      this.opts.log.info({ why }, 'agent stopping');
      clearInterval(this.orphanTimer);
      this.slurm.stop();
      await Promise.all([...this.runs.values()].map((r) => r.cmd?.kill(`agent stopped: ${why}`)));
      this.flushAll();
      clearInterval(this.flushTimer);
      this.conn.stop();
    })();
    return this.ended;
  }

  private hello(): AgentMessage {
    const runs = [
      ...[...this.runs.values()].map((r) => ({ jobId: r.jobId, serial: r.serial, pid: r.cmd?.pid ?? 0, running: r.cmd?.running ?? false })),
      ...this.slurm.list(),
    ];
    return { v: PROTOCOL_VERSION, type: 'hello', runs, pendingUpdates: this.outbox.size };
  }

  private receive(msg: SupervisorMessage): void {
    if (msg.type === 'ack') {
      for (const done of this.outbox.ack(msg.seq)) {
        const key = `${done.jobId}/${done.serial}`;
        if (this.runs.get(key)?.exitSeq === done.seq) this.runs.delete(key);
      }
      this.slurm.acked(msg.seq);
      return;
    }
    void Promise.resolve(msg.op).then((op) => this.execute(withRoot(op))).then(
      (result) => this.conn.send({ v: PROTOCOL_VERSION, type: 'reply', opId: msg.opId, ok: true, result }),
      (err: unknown) => {
        const e = err instanceof JobvisorError ? err : new JobvisorError('INTERNAL', (err as Error).message);
        if (!(err instanceof JobvisorError)) this.opts.log.error({ err, op: msg.op.kind }, 'op failed');
        this.conn.send({ v: PROTOCOL_VERSION, type: 'reply', opId: msg.opId, ok: false, error: { code: e.code, message: e.message } });
      },
    );
  }

  private async execute(op: Op): Promise<unknown> {
    switch (op.kind) {
      case 'run':
        return op.sbatch ? this.slurm.submit(op) : this.startRun(op);
      case 'attach':
        return this.slurm.attach(op);
      case 'shutdown':
        setTimeout(() => void this.stop(`asked by the supervisor: ${op.reason}`), 50);
        return { ok: true };
      case 'agentInfo':
        return { logTail: await this.logTail(), slurmCommands: { ...slurmCommandCounts } };
      case 'cancel': {
        if (this.slurm.has(op.jobId, op.serial)) return this.slurm.cancel(op.jobId, op.serial, op.reason);
        const run = this.runs.get(`${op.jobId}/${op.serial}`);
        if (!run?.cmd) return { known: false };
        await run.cmd.kill(op.reason);
        this.flush(run);
        return { known: true };
      }
      case 'runStatus': {
        const slurmRun = this.slurm.list().find((r) => r.jobId === op.jobId && r.serial === op.serial);
        if (slurmRun) return { known: true, running: slurmRun.running };
        const run = this.runs.get(`${op.jobId}/${op.serial}`);
        return { known: run !== undefined, running: run?.cmd?.running ?? false };
      }
      case 'analysis':
        await resolveInRunDir(op.runDir, '.');
        return runAnalysis(this.fillNode(op.argv), op.runDir, op.timeLimitSeconds, this.cmdEnv);
      case 'io':
        if (op.action === 'list') return listRunFiles(op.runDir);
        return readRunFile(op.runDir, op.path, op.offset, op.action === 'stat' ? 0 : op.length);
      default: {
        const never: never = op;
        throw new JobvisorError('AGENT_PROTOCOL', `unknown op ${JSON.stringify(never)}`);
      }
    }
  }

  private async logTail(): Promise<string> {
    if (!this.opts.logFile) return '';
    const text = await readFile(this.opts.logFile, 'utf8').catch(() => '');
    return text.split('\n').slice(-200).join('\n');
  }

  private fillNode(argv: string[]): string[] {
    return argv.map((a) => a.replaceAll('{node}', process.execPath));
  }

  /** Starts a run; asking again for a run that exists answers with the same process (the op is idempotent). */
  private async startRun(op: Extract<Op, { kind: 'run' }>): Promise<{ pid: number }> {
    const key = `${op.jobId}/${op.serial}`;
    const existing = this.runs.get(key);
    if (existing) {
      if (!existing.cmd) throw new JobvisorError('INTERNAL', 'the run is still being started');
      return { pid: existing.cmd.pid };
    }
    for (const other of this.runs.values()) {
      if (other.jobId === op.jobId && other.cmd?.running) await other.cmd.kill('replaced by a newer run');
    }
    const run: Run = { jobId: op.jobId, serial: op.serial, cmd: null, exitSeq: null, lines: [], progress: null };
    this.runs.set(key, run);
    try {
      await prepareRunDir(op.runDir, op.parameters);
      run.cmd = await RunningCmd.start(
        { argv: this.fillNode(op.argv), runDir: op.runDir, env: this.cmdEnv, progress: op.progress, timeLimitSeconds: op.timeLimitSeconds },
        {
          onLine: (line) => {
            run.lines.push(line);
            if (run.lines.length >= MAX_BATCH_LINES) this.flush(run);
          },
          onProgress: (value, message) => {
            run.progress = { value, ...(message === undefined ? {} : { message: message.slice(0, 500) }) };
          },
          onExit: (end) => {
            this.flush(run);
            run.exitSeq = this.push(run, { kind: 'exit', ...end, ...(end.reason ? { reason: end.reason.slice(-4000) } : {}) });
          },
        },
      );
    } catch (err) {
      this.runs.delete(key);
      throw new JobvisorError('RUN_START_FAILED', `the run could not start: ${(err as Error).message}`);
    }
    this.opts.log.info({ jobId: op.jobId, serial: op.serial, pid: run.cmd.pid }, 'run started');
    this.push(run, { kind: 'started', pid: run.cmd.pid });
    return { pid: run.cmd.pid };
  }

  private push(run: Run, update: Update): number {
    return this.pushFor(run.jobId, run.serial, update);
  }

  private pushFor(jobId: string, serial: number, update: Update): number {
    const msg = this.outbox.add(jobId, serial, update);
    this.conn.send(msg);
    return msg.seq;
  }

  /** Sends a run's gathered log lines and latest progress as updates. */
  private flush(run: Run): void {
    if (run.lines.length > 0) {
      const lines = run.lines.splice(0, run.lines.length).map((l) => (l.length > 65536 ? l.slice(0, 65536) : l));
      this.push(run, { kind: 'log', lines });
    }
    if (run.progress) {
      this.push(run, { kind: 'progress', ...run.progress });
      run.progress = null;
    }
  }

  private flushAll(): void {
    for (const run of this.runs.values()) this.flush(run);
  }
}
