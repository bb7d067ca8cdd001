// 1-D heat equation du/dt = alpha d2u/dx2, explicit FTCS finite differences, Dirichlet ends.
// Run by jobvisor as: {node} {templateDir}/heat1d.mjs --name=value ... with cwd = the run directory.
// Writes (all atomically: temp file + rename, so analysis commands may read them at any time):
//   frames/frame-<index>.json  {index, t, step, x, u, energy}   index = 0 .. frames-1
//   frames/index.json          {frames, total, latest, done, t}  frames = how many exist so far
//   summary.json, temperature.csv                                at the end
import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import path from 'node:path';
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

const SAFETY = 0.4; // r = alpha dt / dx^2 <= SAFETY; FTCS is stable for r <= 0.5
const MAX_CELL_UPDATES = 4e10; // about a minute of work on a fast core; beyond it the time limit would strike
const PROGRESS_EVERY_MS = 400;

function writeAtomic(file, text) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

const round = (v, digits) => Number(v.toPrecision(digits));

/** Trapezoidal integral of u over the grid (spacing dx). */
function integral(u, dx) {
  let s = 0.5 * (u[0] + u[u.length - 1]);
  for (let i = 1; i < u.length - 1; i++) s += u[i];
  return s * dx;
}

/** Advances `steps` FTCS steps; returns the array holding the new state (the two buffers swap). */
function advance(u, v, steps, r, left, right) {
  const n = u.length;
  for (let s = 0; s < steps; s++) {
    for (let i = 1; i < n - 1; i++) v[i] = u[i] + r * (u[i - 1] - 2 * u[i] + u[i + 1]);
    v[0] = left;
    v[n - 1] = right;
    const w = u;
    u = v;
    v = w;
  }
  return [u, v];
}

const p = readParameters();
const n = p.nx;
const L = p.length;
const dx = L / (n - 1);
const intervals = p.frames - 1;
const frameDt = p.endTime / intervals;
const dtMax = (SAFETY * dx * dx) / p.alpha;
const stepsPerFrame = Math.max(1, Math.ceil(frameDt / dtMax - 1e-9));
const dt = frameDt / stepsPerFrame;
const totalSteps = stepsPerFrame * intervals;
const r = (p.alpha * dt) / (dx * dx);
const cellUpdates = totalSteps * (n - 2);

if (!(cellUpdates <= MAX_CELL_UPDATES) || !(r <= 0.5)) {
  die(
    `error: nx=${n}, alpha=${p.alpha} m^2/s, length=${L} m and endTime=${p.endTime} s need ${totalSteps.toExponential(2)} time steps ` +
      `(dt = ${dtMax.toExponential(2)} s from the stability limit 0.4 dx^2/alpha), i.e. ${cellUpdates.toExponential(2)} cell updates; ` +
      `the limit is ${MAX_CELL_UPDATES.toExponential(0)}: lower nx or endTime, or raise length`,
  );
}

// Initial condition: the linear profile between the end temperatures plus amplitude x shape.
const x = new Float64Array(n);
let u = new Float64Array(n);
let v = new Float64Array(n);
const baseline = (xi) => p.leftTemperature + ((p.rightTemperature - p.leftTemperature) * xi) / L;
const shapes = {
  gaussian: (xi) => Math.exp(-(((xi - L / 2) / (L / 10)) ** 2)),
  step: (xi) => (xi < L / 2 ? 1 : 0),
  sine: (xi) => Math.sin((Math.PI * xi) / L),
};
const shape = shapes[p.initial];
for (let i = 0; i < n; i++) {
  x[i] = i === n - 1 ? L : i * dx;
  u[i] = baseline(x[i]) + p.amplitude * shape(x[i]);
}
u[0] = p.leftTemperature;
u[n - 1] = p.rightTemperature;
const xOut = Array.from(x, (xi) => round(xi, 10));

const framesDir = 'frames';
mkdirSync(framesDir, { recursive: true });
const times = [];
const stored = []; // rounded u of every frame, for temperature.csv

const started = performance.now();
let computeMs = 0;
let step = 0;
let lastProgressAt = -Infinity;
let lastProgressValue = -1;
let progressLines = 0;

function progress(force, message) {
  const now = performance.now();
  if (!force && now - lastProgressAt < PROGRESS_EVERY_MS) return;
  const stepFraction = step / totalSteps;
  const wallFraction = p.paceSeconds > 0 ? Math.min(1, (now - started) / 1000 / p.paceSeconds) : 1;
  const value = Math.min(stepFraction, wallFraction);
  if (!force && value === lastProgressValue) return;
  lastProgressAt = now;
  lastProgressValue = value;
  progressLines++;
  console.log(`PROGRESS ${value.toFixed(4)} ${message}`);
}

function stats(a) {
  let min = Infinity;
  let max = -Infinity;
  for (const e of a) {
    if (e < min) min = e;
    if (e > max) max = e;
  }
  return { min, max, mean: integral(a, dx) / L };
}

function writeFrame(index) {
  const t = index === intervals ? p.endTime : index * frameDt;
  const uOut = Array.from(u, (e) => round(e, 7));
  const energy = integral(u, dx);
  writeAtomic(path.join(framesDir, `frame-${index}.json`), JSON.stringify({ index, t, step, x: xOut, u: uOut, energy }));
  times.push(t);
  stored.push(uOut);
  writeAtomic(
    path.join(framesDir, 'index.json'),
    JSON.stringify({ frames: index + 1, total: p.frames, latest: index, done: index === intervals, t: times }),
  );
  const s = stats(u);
  console.log(
    `frame ${index + 1} of ${p.frames}: t=${t.toPrecision(4)} s step ${step}: min ${s.min.toFixed(2)} max ${s.max.toFixed(2)} mean ${s.mean.toFixed(2)} °C, heat ${energy.toPrecision(5)} °C·m`,
  );
  return energy;
}

console.log(
  `heat1d: rod ${L} m, nx=${n} (dx=${dx.toPrecision(3)} m), alpha=${p.alpha} m^2/s, initial ${p.initial} (amplitude ${p.amplitude} °C), ends ${p.leftTemperature} / ${p.rightTemperature} °C`,
);
console.log(
  `heat1d: dt=${dt.toPrecision(4)} s (r = alpha dt/dx^2 = ${r.toFixed(4)} <= ${SAFETY}), ${totalSteps} steps to t=${p.endTime} s, ${p.frames} frames, ${cellUpdates.toExponential(2)} cell updates` +
    (p.paceSeconds > 0 ? `, paced to at least ${p.paceSeconds} s` : ''),
);
progress(true, 'starting');
const energyStart = writeFrame(0);

const chunk = Math.max(1, Math.floor(200_000 / n)); // steps between progress checks (~0.3 ms of work)
for (let k = 1; k <= intervals; k++) {
  for (let done = 0; done < stepsPerFrame; ) {
    const m = Math.min(chunk, stepsPerFrame - done);
    const c0 = performance.now();
    [u, v] = advance(u, v, m, r, p.leftTemperature, p.rightTemperature);
    computeMs += performance.now() - c0;
    done += m;
    step += m;
    progress(false, `computing frame ${k + 1} of ${p.frames}`);
  }
  writeFrame(k);
  progress(true, `frame ${k + 1} of ${p.frames} written`);
  // Pacing: frame k is due at paceSeconds * k / intervals; wait for it in short sleeps, reporting progress.
  const due = started + (p.paceSeconds * 1000 * k) / intervals;
  for (let now = performance.now(); now < due; now = performance.now()) {
    await sleep(Math.min(due - now, PROGRESS_EVERY_MS));
    progress(false, `frame ${k + 1} of ${p.frames} written`);
  }
}

// Results.
const final = stats(u);
const energyEnd = integral(u, dx);
let exact;
if (p.initial === 'sine') {
  // u(x, t) = baseline(x) + amplitude sin(pi x / L) exp(-alpha pi^2 t / L^2) solves the problem exactly.
  const decay = Math.exp((-p.alpha * Math.PI * Math.PI * p.endTime) / (L * L));
  let maxError = 0;
  for (let i = 0; i < n; i++) {
    const ue = baseline(x[i]) + p.amplitude * Math.sin((Math.PI * x[i]) / L) * decay;
    maxError = Math.max(maxError, Math.abs(u[i] - ue));
  }
  exact = { solution: 'baseline + amplitude sin(pi x/L) exp(-alpha pi^2 t/L^2)', maxAbsError: maxError };
  console.log(`heat1d: max |u - exact| at t=${p.endTime} s: ${maxError.toExponential(3)} °C`);
}
const wallSeconds = (performance.now() - started) / 1000;
const summary = {
  template: 'heat1d',
  parameters: p,
  scheme: 'explicit FTCS, Dirichlet ends',
  grid: { nx: n, length: L, dx },
  time: { endTime: p.endTime, dt, r, steps: totalSteps, stepsPerFrame },
  frames: p.frames,
  cellUpdates,
  final: { ...final, energy: energyEnd },
  energy: { initial: energyStart, final: energyEnd, units: '°C·m' },
  ...(exact ? { exact } : {}),
  computeSeconds: computeMs / 1000,
  wallSeconds,
  cellUpdatesPerSecond: computeMs > 0 ? cellUpdates / (computeMs / 1000) : null,
};
writeAtomic('summary.json', `${JSON.stringify(summary, null, 2)}\n`);

const header = ['x [m]', ...times.map((t) => `u(t=${round(t, 6)} s) [°C]`)].join(',');
const rows = xOut.map((xi, i) => [xi, ...stored.map((f) => f[i])].join(','));
writeAtomic('temperature.csv', `${header}\n${rows.join('\n')}\n`);

step = totalSteps;
progress(true, 'done');
console.log(
  `heat1d: done in ${wallSeconds.toFixed(1)} s (compute ${(computeMs / 1000).toFixed(1)} s, ${(summary.cellUpdatesPerSecond ?? 0).toExponential(2)} cell updates/s, ${progressLines} progress lines); wrote summary.json and temperature.csv`,
);
