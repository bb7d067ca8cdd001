/**
 * The phases of a batch run with steps, as its script records them (drivers/cluster/steps.ts):
 * PHASE_FILE in the run directory holds `<phase> <epoch seconds>` as each step starts and
 * `failed <phase> <exit code>` when one fails; the run log holds `[jobvisor] <step>: <program>`
 * before each step.
 */
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { Phase, PHASE_FILE, type Update } from '../../shared/protocol.js';
import type { StepName } from '../../cmds/runSteps.js';

/** The line a batch script with steps writes before each step; its first group is the step. */
export const STEP_BANNER = /^\[jobvisor\] (preprocess|command|postprocess): /;
const PHASE_STEP: Record<Phase, StepName> = { preparing: 'preprocess', running: 'command', finishing: 'postprocess' };

/** The step of a phase. */
export const stepOf = (phase: Phase): StepName => PHASE_STEP[phase];

/** A signal's name by its number (a shell's exit code 128 + n), or null. */
export function signalName(n: number): string | null {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? null;
}

export interface PhaseRead {
  /** The phase updates of the lines after the first `from`, with the time the script wrote. */
  updates: Extract<Update, { kind: 'phase' }>[];
  /** The step that failed and its exit code, if a line says so. */
  failed: { step: StepName; code: number } | null;
  /** How many lines the file holds now. */
  lines: number;
}

/** Reads the phase file of a run from line `from` on; a file not (yet) there holds no lines. */
export async function readPhaseFile(runDir: string, from: number): Promise<PhaseRead> {
  const text = await readFile(path.join(runDir, PHASE_FILE), 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => l.trim());
  const out: PhaseRead = { updates: [], failed: null, lines: lines.length };
  for (const line of lines.slice(from)) {
    const [word = '', second = '', third = ''] = line.trim().split(/\s+/);
    const failed = Phase.safeParse(second);
    if (word === 'failed' && failed.success) {
      out.failed = { step: PHASE_STEP[failed.data], code: Number(third) };
      continue;
    }
    const phase = Phase.safeParse(word);
    const seconds = Number(second);
    if (phase.success) out.updates.push({ kind: 'phase', phase: phase.data, ...(Number.isInteger(seconds) && seconds > 0 ? { at: seconds * 1000 } : {}) });
  }
  return out;
}
