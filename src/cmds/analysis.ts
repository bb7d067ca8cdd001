/**
 * Analysis: a small computation on a run directory (e.g. one frame of a data series to plot),
 * run as its own process with a time limit; its stdout is one JSON value.
 */
import { execFile } from 'node:child_process';
import { JobvisorError } from '../shared/errors.js';

const MAX_OUTPUT = 2 * 1024 * 1024;

export function runAnalysis(argv: string[], runDir: string, timeLimitSeconds: number, env: NodeJS.ProcessEnv): Promise<{ data: unknown }> {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: runDir, env, timeout: timeLimitSeconds * 1000, maxBuffer: MAX_OUTPUT, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        const why = (err as { killed?: boolean }).killed ? `took longer than ${timeLimitSeconds} s` : stderr.trim().split('\n').slice(-5).join('\n') || err.message;
        reject(new JobvisorError('ANALYSIS_FAILED', `analysis failed: ${why}`));
        return;
      }
      try {
        resolve({ data: JSON.parse(stdout) as unknown });
      } catch {
        reject(new JobvisorError('ANALYSIS_FAILED', 'analysis did not print one JSON value'));
      }
    });
  });
}
