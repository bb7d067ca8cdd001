// Prints `lines` log lines evenly over `seconds`, each followed by a PROGRESS line, then writes done.txt.
// Run by jobvisor as: {node} {templateDir}/sleep.mjs --seconds=S --lines=N   (cwd = the run directory)
// stdout is exactly: for i = 1..N: "line <i>" then "PROGRESS <i/N with 6 decimals>". Nothing else.
// No signal handlers: SIGTERM ends the process with the default behaviour.
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

const p = readParameters();
const started = performance.now();
const dueAt = (i) => started + (p.seconds * 1000 * i) / p.lines;

let pending = '';
for (let i = 1; i <= p.lines; i++) {
  const wait = dueAt(i) - performance.now();
  if (wait > 0) {
    if (pending) {
      process.stdout.write(pending);
      pending = '';
    }
    await sleep(wait);
  }
  pending += `line ${i}\nPROGRESS ${(i / p.lines).toFixed(6)}\n`;
  if (pending.length > 64 * 1024) {
    process.stdout.write(pending);
    pending = '';
  }
}
if (pending) process.stdout.write(pending);
const rest = started + p.seconds * 1000 - performance.now();
if (rest > 0) await sleep(rest);

writeFileSync('.done.txt.tmp', 'ok\n');
renameSync('.done.txt.tmp', 'done.txt');
