/**
 * The agent: executes the ops its supervisor sends, runs job cmds as subprocesses, and streams
 * their status, progress and log lines back as numbered updates. Cmds keep running while the
 * connection is down; the outbox delivers what could not be sent once it is back.
 */
import { runTemplateFiles, type TemplateCacheOptions } from './templateCache.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError, type ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CMD_GROUPS_DIR, MAX_WS_PAYLOAD, PROTOCOL_VERSION, type AgentMessage, type Op, type SupervisorMessage, type Update, type WorkerFree } from '../shared/protocol.js';
import { schedulerCommandCounts, schedulerCommandFailures } from '../shared/scheduler.js';
import { runAnalysis } from '../cmds/analysis.js';
import { runIo } from '../cmds/files.js';
import { resolveInRunDir } from '../cmds/runDir.js';
import { fillAgentValues } from './agentValues.js';
import { CmdGroups } from './cmdGroups.js';
import { Connection } from './connection.js';
import { BatchEngine } from './engines/batch.js';
import type { RunEngine } from './engines/engine.js';
import { ProcessEngine } from './engines/process.js';
import { SCHEDULERS } from './engines/schedulers.js';
import { MAX_UNACKED_CONNECTIONS, Outbox, type UpdateMessage } from './outbox.js';

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
  /** Runs on a batch scheduler: how often it is asked, and how long a state may stay unconfirmed. */
  scheduler?: { pollIntervalMs: number; pollSoonMs?: number; pollBackoff?: number; unconfirmedGraceMs: number };
  /** The agent's own log file, if it has one (shown to users for diagnosis). */
  logFile?: string;
  /** Where the process groups of its cmds are recorded (default: `cmd-groups` in the agent's folder). */
  cmdGroupsDir?: string;
  /** An enrolled worker (enroll.ts): the headers it connects with, and its free resources, said in its hello and every `intervalMs`. */
  worker?: { headers: Record<string, string>; free(): WorkerFree; intervalMs: number; templates?: TemplateCacheOptions };
}

/** A reply larger than this is answered with an error instead (the supervisor would close the connection on it). */
const MAX_REPLY_BYTES = MAX_WS_PAYLOAD - 64 * 1024;

export class Agent {
  private readonly outbox = new Outbox();
  private readonly conn: Connection;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly orphanTimer: NodeJS.Timeout;
  private readonly resourcesTimer: NodeJS.Timeout | undefined;
  private readonly cmdEnv: NodeJS.ProcessEnv;
  private readonly processes: ProcessEngine;
  /** One batch engine per scheduler, made when a run first names it. */
  private readonly batches = new Map<string, BatchEngine>();
  private ended: Promise<void> | null = null;
  /** The scheduler command counts last sent (as JSON), so they are sent again only when they change. */
  private sentCommandCounts = '';
  /** Why the supervisor refused this agent, if it did (it then ends). */
  refused: string | null = null;

  constructor(private readonly opts: AgentOptions) {
    const { JOBVISOR_AGENT_ID: _id, JOBVISOR_AGENT_URL: _url, ...env } = process.env;
    this.cmdEnv = env;
    this.conn = new Connection({
      url: opts.url,
      agentId: opts.agentId,
      token: opts.token,
      log: opts.log,
      silenceMs: opts.silenceMs ?? 60_000,
      ...(opts.worker ? { headers: opts.worker.headers } : {}),
      onOpen: () => [this.hello(), ...this.commandCounts(true), ...this.outbox.pending()],
      onMessage: (m) => this.receive(m),
      onRefused: (why) => {
        this.refused = why;
        void this.stop(`refused: ${why}`);
      },
      onClose: (code, reason) => this.connectionClosed(code, reason),
    });
    const groups = new CmdGroups(opts.cmdGroupsDir ?? path.join(process.cwd(), CMD_GROUPS_DIR), opts.log);
    this.processes = new ProcessEngine({ push: (j, s, u) => this.push(j, s, u), env: this.cmdEnv, groups, log: opts.log, flushMs: opts.flushMs ?? 100 });
    // The process engine sends each run's lines on its own timers (at most once per flushMs a run).
    this.flushTimer = setInterval(() => {
      for (const m of this.commandCounts(false)) this.conn.send(m);
    }, opts.flushMs ?? 100);
    const worker = opts.worker;
    if (worker) this.resourcesTimer = setInterval(() => this.conn.send({ v: PROTOCOL_VERSION, type: 'resources', free: worker.free() }), worker.intervalMs);
    const orphanMs = opts.orphanMs ?? 10 * 60_000;
    this.orphanTimer = setInterval(() => {
      const lost = this.conn.lostSince;
      if (lost !== null && Date.now() - lost > orphanMs && !this.engines().some((e) => e.busy)) {
        void this.stop(`no supervisor for ${Math.round(orphanMs / 1000)} s and nothing running`);
      }
    }, Math.min(orphanMs, 5000));
  }

  /** Connects and serves until stopped. */
  async run(): Promise<void> {
    await this.conn.run();
    await this.ended;
  }

  /** Ends every cmd (their whole process groups) and stops watching scheduler jobs (they go on), then the connection. */
  stop(why: string): Promise<void> {
    this.ended ??= (async () => {
      this.opts.log.info({ why }, 'agent stopping');
      clearInterval(this.orphanTimer);
      clearInterval(this.resourcesTimer);
      await Promise.all(this.engines().map((e) => e.stop(why)));
      clearInterval(this.flushTimer);
      this.conn.stop();
    })();
    return this.ended;
  }

  private engines(): RunEngine[] {
    return [this.processes, ...this.batches.values()];
  }

  /** The batch engine of a scheduler, made on first use. */
  private batch(name: string): BatchEngine {
    let engine = this.batches.get(name);
    if (!engine) {
      const scheduler = SCHEDULERS.get(name);
      if (!scheduler) throw new JobvisorError('RUN_START_FAILED', `this agent knows no scheduler "${name}"; known: ${[...SCHEDULERS.keys()].join(', ')}`);
      const s = this.opts.scheduler ?? { pollIntervalMs: 5000, unconfirmedGraceMs: 600_000 };
      engine = new BatchEngine(scheduler, { push: (j, sl, u) => this.push(j, sl, u), ...s, log: this.opts.log.child({ scheduler: name }) });
      this.batches.set(name, engine);
    }
    return engine;
  }

  /** The engine that has a run, if any. */
  private engineOf(jobId: string, serial: number): RunEngine | undefined {
    return this.engines().find((e) => e.runs().some((r) => r.jobId === jobId && r.serial === serial));
  }

  /** The scheduler command counts as a message: when they changed since last sent (or, on a new connection, when there are any). */
  private commandCounts(always: boolean): AgentMessage[] {
    const key = JSON.stringify([schedulerCommandCounts, schedulerCommandFailures]);
    if (key === '[{},{}]' || (!always && key === this.sentCommandCounts)) return [];
    if (!this.conn.open && !always) return [];
    this.sentCommandCounts = key;
    return [{ v: PROTOCOL_VERSION, type: 'schedulerCommands', issued: { ...schedulerCommandCounts }, failed: { ...schedulerCommandFailures } }];
  }

  private hello(): AgentMessage {
    return { v: PROTOCOL_VERSION, type: 'hello', runs: this.engines().flatMap((e) => e.runs()), pendingUpdates: this.outbox.size, ...(this.opts.worker ? { free: this.opts.worker.free() } : {}) };
  }

  private receive(msg: SupervisorMessage): void {
    if (msg.type === 'ack') {
      this.outbox.ack(msg.seq);
      for (const e of this.engines()) e.acked(msg.seq);
      return;
    }
    const fail = (code: ErrorCode, message: string) => this.conn.send({ v: PROTOCOL_VERSION, type: 'reply', opId: msg.opId, ok: false, error: { code, message } });
    void Promise.resolve(msg.op).then((op) => this.execute(fillAgentValues(op))).then(
      (result) => {
        const reply: AgentMessage = { v: PROTOCOL_VERSION, type: 'reply', opId: msg.opId, ok: true, result };
        const text = JSON.stringify(reply);
        const bytes = Buffer.byteLength(text);
        if (bytes <= MAX_REPLY_BYTES) return this.conn.send(reply, text);
        fail(msg.op.kind === 'analysis' ? 'ANALYSIS_FAILED' : 'INTERNAL', `the result of the ${msg.op.kind} op is too large to send (${bytes} bytes)`);
      },
      (err: unknown) => {
        const e = err instanceof JobvisorError ? err : new JobvisorError('INTERNAL', (err as Error).message);
        if (!(err instanceof JobvisorError)) this.opts.log.error({ err, op: msg.op.kind }, 'op failed');
        fail(e.code, e.message);
      },
    );
  }

  /**
   * A connection ended. An update that was first in line on too many connections in a row, each
   * closed by the supervisor refusing it (not merely dropped), is not sent again: it becomes its
   * run's end, as error with the reason, and the run is ended. If that too cannot be delivered,
   * the agent ends itself.
   */
  private connectionClosed(code: number, reason: string): void {
    const head = this.outbox.closed(code);
    if (!head) return;
    const bytes = Buffer.byteLength(JSON.stringify(head));
    const problem = `update ${head.seq} (${head.update.kind}, ${bytes} bytes) could not be delivered: the supervisor closed ${MAX_UNACKED_CONNECTIONS} connections in a row without acknowledging it (last: ${code}${reason ? ` ${reason}` : ''})`;
    this.opts.log.error({ jobId: head.jobId, serial: head.serial, seq: head.seq, kind: head.update.kind, bytes, code, reason }, 'an update could not be delivered');
    if (this.outbox.wasReplaced(head.seq)) {
      void this.stop(problem);
      return;
    }
    this.outbox.replaceHead({ kind: 'exit', status: 'error', exitCode: null, signal: null, reason: problem.slice(0, 4000) });
    this.endRun(head, problem);
  }

  private endRun(head: UpdateMessage, why: string): void {
    this.engineOf(head.jobId, head.serial)
      ?.cancel(head.jobId, head.serial, why.slice(0, 500))
      .catch((err: unknown) => this.opts.log.warn({ jobId: head.jobId, err: (err as Error).message }, 'the run could not be ended'));
  }

  private async execute(op: Op): Promise<unknown> {
    switch (op.kind) {
      case 'run':
        return op.batch ? this.batch(op.batch.scheduler).start(op) : this.processes.start(op);
      case 'attach':
        return this.batch(op.scheduler).attach(op);
      case 'shutdown':
        setTimeout(() => void this.stop(`asked by the supervisor: ${op.reason}`), 50);
        return { ok: true };
      case 'agentInfo':
        return { logTail: await this.logTail(), schedulerCommands: { ...schedulerCommandCounts } };
      case 'cancel':
        return (await this.engineOf(op.jobId, op.serial)?.cancel(op.jobId, op.serial, op.reason)) ?? { known: false };
      case 'runStatus':
        return { runs: this.engines().flatMap((e) => e.runs()) };
      case 'analysis':
        await resolveInRunDir(op.runDir, '.');
        return runAnalysis(op.argv, op.runDir, op.timeLimitSeconds, this.cmdEnv);
      case 'io':
        return runIo(op);
      case 'templateFiles':
        return runTemplateFiles(this.opts.worker?.templates, op);
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

  /** Numbers an update (a long log update becomes several) and sends it now if connected, as the JSON the outbox measured; returns the last number. */
  private push(jobId: string, serial: number, update: Update): number {
    const msgs = this.outbox.add(jobId, serial, update);
    for (const m of msgs) this.conn.send(m, this.outbox.textOf(m));
    return msgs.at(-1)?.seq ?? 0;
  }
}
