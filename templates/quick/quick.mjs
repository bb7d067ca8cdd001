// Monte-Carlo estimate of pi. Run by jobvisor as: {node} {templateDir}/quick.mjs --samples=N --batches=B --seed=S
// with cwd = the run directory. Writes result.json (atomically) in the current directory.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
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

/** mulberry32: a small, fast, seeded 32-bit generator; returns floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeJsonAtomic(file, value) {
  const tmp = `.${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}

const p = readParameters();
const started = performance.now();
const random = mulberry32(p.seed);
console.log(`quick: estimating pi from ${p.samples} random points in ${p.batches} batches (seed ${p.seed})`);
console.log(`PROGRESS 0 starting`);

let inside = 0;
let drawn = 0;
const history = [];
for (let b = 1; b <= p.batches; b++) {
  const target = Math.round((p.samples * b) / p.batches);
  let hits = 0;
  for (let i = drawn; i < target; i++) {
    const x = random();
    const y = random();
    if (x * x + y * y < 1) hits++;
  }
  inside += hits;
  drawn = target;
  const pi = (4 * inside) / drawn;
  history.push({ samples: drawn, pi });
  console.log(`batch ${b}/${p.batches}: ${drawn} samples, pi ~ ${pi.toFixed(6)} (error ${Math.abs(pi - Math.PI).toExponential(2)})`);
  console.log(`PROGRESS ${(b / p.batches).toFixed(4)} batch ${b}/${p.batches}`);
  if (b < p.batches) await sleep(100);
}

const pi = (4 * inside) / p.samples;
const q = inside / p.samples;
const standardError = 4 * Math.sqrt((q * (1 - q)) / p.samples);
const seconds = (performance.now() - started) / 1000;
writeJsonAtomic('result.json', {
  method: 'monte-carlo',
  samples: p.samples,
  batches: p.batches,
  seed: p.seed,
  inside,
  pi,
  standardError,
  absoluteError: Math.abs(pi - Math.PI),
  history,
  seconds,
});
console.log(`result: pi ~ ${pi.toFixed(6)} +- ${standardError.toExponential(2)} (true error ${Math.abs(pi - Math.PI).toExponential(2)}), ${seconds.toFixed(2)} s; wrote result.json`);
