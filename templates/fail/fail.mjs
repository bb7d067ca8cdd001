// A solver that diverges on purpose. Run by jobvisor as:
//   {node} {templateDir}/fail.mjs --failAfterSteps=N --stepSeconds=S
// Logs and PROGRESS lines go to stdout; the error goes to stderr as the LAST line; exit code 2.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

// ---- parameters -------------------------------------------------------------------------
// Defaults and limits come from this folder's template.json, so the script also runs by hand:
//   node <script>.mjs --name=value ...
// jobvisor has validated the values already; this check only guards runs by hand.
function readParameters() {
  const spec = JSON.parse(readFileSync(new URL('./template.json', import.meta.url), 'utf8')).parameters;
  const p = {};
  for (const [name, s] of Object.entries(spec)) p[name] = s.default;
  for (const arg of process.argv.slice(2)) {
    const m = /^--([A-Za-z][A-Za-z0-9_]*)=(.*)$/s.exec(arg);
    if (!m) die(`error: argument "${arg}" is not of the form --name=value`);
    const [, name, raw] = m;
    const s = spec[name];
    if (!s) die(`error: unknown parameter "${name}" (known: ${Object.keys(spec).join(', ')})`);
    let v;
    if (s.type === 'number' || s.type === 'integer') {
      v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) die(`error: parameter ${name} must be a number, got "${raw}"`);
      if (s.type === 'integer' && !Number.isInteger(v)) die(`error: parameter ${name} must be an integer, got "${raw}"`);
      if (s.min !== undefined && v < s.min) die(`error: parameter ${name} = ${v} is below its minimum ${s.min}`);
      if (s.max !== undefined && v > s.max) die(`error: parameter ${name} = ${v} is above its maximum ${s.max}`);
    } else if (s.type === 'enum') {
      if (!s.values.includes(raw)) die(`error: parameter ${name} must be one of ${s.values.join('|')}, got "${raw}"`);
      v = raw;
    } else if (s.type === 'boolean') {
      if (raw !== 'true' && raw !== 'false') die(`error: parameter ${name} must be true or false, got "${raw}"`);
      v = raw === 'true';
    } else {
      v = raw;
    }
    p[name] = v;
  }
  return p;
}

function die(message, code = 2) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}
// -----------------------------------------------------------------------------------------

const TOLERANCE = 1e-6;
const p = readParameters();
const planned = 2 * p.failAfterSteps;
console.log(`fail: iterating towards tolerance ${TOLERANCE.toExponential(0)}, ${planned} steps planned`);

// A little real work: a 2x2 Jacobi iteration on a matrix that is not diagonally dominant, so it diverges
// (the iteration matrix has spectral radius 3); the residual grows by a factor of 3 per step.
let x1 = 0;
let x2 = 0;
const residual = () => Math.hypot(1 * x1 + 3 * x2 - 1, 3 * x1 + 1 * x2 - 1);
const show = (r, digits) => (Number.isFinite(r) ? r.toExponential(digits) : 'overflow (beyond 1.8e+308)');
for (let step = 1; step <= p.failAfterSteps; step++) {
  [x1, x2] = [(1 - 3 * x2) / 1, (1 - 3 * x1) / 1];
  const r = residual();
  if (step === p.failAfterSteps) {
    // The last stderr line is what the user sees as the reason: keep it last and self-contained.
    console.log(`step ${step}: residual ${show(r, 3)}, giving up`);
    process.stderr.write(
      `error: solver diverged at step ${step}: residual ${show(r, 2)} exceeds tolerance ${TOLERANCE.toExponential(0)} (it grows 3x per step)\n`,
    );
    process.exit(2);
  }
  console.log(`step ${step}: residual ${show(r, 3)}`);
  console.log(`PROGRESS ${(step / planned).toFixed(4)} step ${step}/${planned}`);
  if (p.stepSeconds > 0) await sleep(p.stepSeconds * 1000);
}
