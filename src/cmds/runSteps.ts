/**
 * Runs a run's steps, in its run directory, one after another: the template's preprocess (if
 * any), its command, then its postprocess (if any, and only after the command exited 0). Each
 * step is a RunningCmd of its own (its own process group) writing to the one run log; with
 * steps, a line `[jobvisor] <step>: <program>` before each step says in the log which one
 * speaks. A step that fails ends the run as error, with its stderr tail and how it ended
 * ("preprocess failed: ... (exited with code 2)", "postprocess rejected the results: ...");
 * later steps do not start. The time limit covers all steps; a kill ends the step that runs and
 * starts no other. Progress is read from the command only.
 */
import path from 'node:path';
import type { Phase, RunEnd, Step } from '../shared/protocol.js';
import type { ProgressSpec } from '../shared/template.js';
import { RunningCmd, type CmdEvents } from './runCommand.js';
import { RUN_LOG } from './runDir.js';
import { RunLog } from './runLog.js';
import type { SpawnCmd } from './spawner.js';

export type StepName = Step;
export const STEP_PHASE: Record<StepName, Phase> = { preprocess: 'preparing', command: 'running', postprocess: 'finishing' };

export interface StepsSpec {
  preprocess?: string[] | undefined;
  argv: string[];
  postprocess?: string[] | undefined;
  runDir: string;
  env: NodeJS.ProcessEnv;
  progress: ProgressSpec;
  timeLimitSeconds: number;
  killGraceMs?: number;
  /** How each step's process is started (see RunningCmd). */
  spawn?: SpawnCmd;
}

type End = Parameters<CmdEvents['onExit']>[0];

export interface StepsEvents extends Omit<CmdEvents, 'onSpawn' | 'onExit'> {
  /** A step began: its phase, and when (epoch ms). Said before its process starts. */
  onPhase?(phase: Phase, at: number): void;
  /** A step's process group `pid` started, and (onStepEnd) ended. */
  onSpawn?(pid: number): void;
  onStepEnd?(pid: number): void;
  /** The run ended: its last step's end, or the first failure; with steps, `step` says which step ended it. */
  onExit(end: End & { step?: StepName }): void;
}

interface StepToRun {
  name: StepName;
  argv: string[];
}

/** The marker line before a step, in runs that have steps: the step and its program's name. */
export function stepBanner(step: StepName, argv: string[]): string {
  return `[jobvisor] ${step}: ${path.basename(argv[0] ?? '')}`;
}

/** A failed step's reason, from the reason RunningCmd gives ("<stderr tail>\n(<how>)" or "the command <how>"). */
export function stepFailure(step: StepName, reason: string): string {
  if (step === 'command') return reason;
  const head = step === 'preprocess' ? 'preprocess failed' : 'postprocess rejected the results';
  const m = /^([\s\S]*)\n\(([^\n]*)\)$/.exec(reason);
  if (m) return `${head}: ${m[1]} (${m[2]})`;
  return `${head} (${reason.replace(/^the command (was )?/, '')})`;
}

export class RunningSteps {
  private current: RunningCmd | null = null;
  private killReason: string | null = null;
  private done = false;
  private readonly timer: NodeJS.Timeout;
  private endResolve!: () => void;
  /** Resolves once the run has ended (its onExit was said). */
  readonly exited = new Promise<void>((resolve) => (this.endResolve = resolve));

  private constructor(
    private readonly spec: StepsSpec,
    private readonly events: StepsEvents,
    private readonly log: RunLog,
    private readonly steps: StepToRun[],
  ) {
    this.timer = setTimeout(() => void this.kill(`time limit of ${spec.timeLimitSeconds} s exceeded`), spec.timeLimitSeconds * 1000);
  }

  /** Starts the first step; throws if it cannot be spawned (e.g. no such program). */
  static async start(spec: StepsSpec, events: StepsEvents): Promise<RunningSteps> {
    const steps: StepToRun[] = [
      ...(spec.preprocess ? [{ name: 'preprocess' as const, argv: spec.preprocess }] : []),
      { name: 'command' as const, argv: spec.argv },
      ...(spec.postprocess ? [{ name: 'postprocess' as const, argv: spec.postprocess }] : []),
    ];
    const log = await RunLog.open(path.join(spec.runDir, RUN_LOG), (what) => events.onLogProblem?.(what));
    const run = new RunningSteps(spec, events, log, steps);
    try {
      await run.startStep(0);
    } catch (err) {
      clearTimeout(run.timer);
      log.end();
      const first = steps[0] as StepToRun;
      throw new Error(first.name === 'command' ? (err as Error).message : stepFailure(first.name, (err as Error).message));
    }
    return run;
  }

  /** The process group of the step that runs (or ran last). */
  get pid(): number {
    return this.current?.pid ?? 0;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Ends the step that runs (SIGTERM, then SIGKILL); no later step starts. Resolves once the run has ended. */
  async kill(reason: string): Promise<void> {
    if (this.done) return;
    this.killReason ??= reason;
    await this.current?.kill(this.killReason);
    await this.exited;
  }

  private async startStep(i: number): Promise<void> {
    const step = this.steps[i] as StepToRun;
    if (this.steps.length > 1) {
      const banner = stepBanner(step.name, step.argv);
      this.log.write(banner + '\n');
      this.events.onLine(banner);
    }
    this.events.onPhase?.(STEP_PHASE[step.name], Date.now());
    const main = step.name === 'command';
    const cmd = await RunningCmd.start(
      {
        argv: step.argv,
        runDir: this.spec.runDir,
        env: this.spec.env,
        progress: main ? this.spec.progress : { kind: 'none' },
        // The run's own timer ends the step first: this is a backstop.
        timeLimitSeconds: this.spec.timeLimitSeconds + 5,
        log: this.log,
        ...(this.spec.killGraceMs === undefined ? {} : { killGraceMs: this.spec.killGraceMs }),
        ...(this.spec.spawn ? { spawn: this.spec.spawn } : {}),
      },
      {
        onSpawn: (pid) => this.events.onSpawn?.(pid),
        onLine: (line) => this.events.onLine(line),
        onProgress: (value, message) => this.events.onProgress(value, message),
        onExit: (end) => this.stepEnded(i, cmd, end),
      },
    );
    this.current = cmd;
    if (this.killReason !== null) void cmd.kill(this.killReason);
  }

  private stepEnded(i: number, cmd: RunningCmd, end: End): void {
    this.events.onStepEnd?.(cmd.pid);
    const step = this.steps[i] as StepToRun;
    if (this.killReason !== null) return this.finish({ ...end, status: 'canceled', reason: this.killReason }, step);
    if (end.status !== 'completed') return this.finish({ ...end, ...(end.reason === undefined ? {} : { reason: stepFailure(step.name, end.reason) }) }, step);
    if (i === this.steps.length - 1) return this.finish(end, step);
    const next = this.steps[i + 1] as StepToRun;
    this.startStep(i + 1).catch((err: unknown) => {
      this.finish({ status: 'error', exitCode: null, signal: null, reason: stepFailure(next.name, (err as Error).message) }, next);
    });
  }

  private finish(end: End & { status: RunEnd }, step: StepToRun): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.log.end();
    void this.log.settled().then(() => {
      this.events.onExit(this.steps.length > 1 ? { ...end, step: step.name } : end);
      this.endResolve();
    });
  }
}
