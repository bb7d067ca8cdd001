// Jacobi relaxation of u'' = 0 on [0, 1] with u(0) = 0, u(1) = 1, reporting progress through a file.
import { renameSync, writeFileSync } from 'node:fs';

const [progressFile, stepsArg, pointsArg, pauseArg, failArg] = process.argv.slice(2);
const steps = Number(stepsArg);
const n = Number(pointsArg);
const pauseMs = Number(pauseArg) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function report(value, message) {
  writeFileSync(`${progressFile}.tmp`, JSON.stringify({ progress: value, message }) + '\n');
  renameSync(`${progressFile}.tmp`, progressFile);
}

let u = new Float64Array(n);
u[n - 1] = 1;
let residual = 0;
for (let k = 1; k <= steps; k++) {
  const next = new Float64Array(n);
  next[n - 1] = 1;
  residual = 0;
  for (let i = 1; i < n - 1; i++) {
    next[i] = 0.5 * (u[i - 1] + u[i + 1]);
    residual = Math.max(residual, Math.abs(next[i] - u[i]));
  }
  u = next;
  report(k / steps, `sweep ${k} of ${steps}, residual ${residual.toExponential(3)}`);
  if (pauseMs > 0 && k < steps) await sleep(pauseMs);
}
writeFileSync('result.json', JSON.stringify({ steps, points: n, residual, u: Array.from(u) }) + '\n');
if (failArg === 'true') {
  process.stderr.write(`error: asked to fail after sweep ${steps}\n`);
  process.exit(3);
}
