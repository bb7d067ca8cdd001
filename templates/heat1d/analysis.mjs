// Analysis frames of heat1d, run while the simulation runs or after it:
//   node analysis.mjs temperature <runDir> <index>  -> {frames, total, index, frameNumber, t, x, u} of frame <index> (or the latest)
//   node analysis.mjs energy <runDir>               -> {frames, total, t, energy, units}
// Numbering: `index` counts from 0 (the request's index, frames/frame-<index>.json); people read
// "frame <frameNumber> of <total>" with frameNumber = index + 1 (the log and the GUI say it so); `frames` is
// how many frames are written so far, `total` how many the run writes in all.
// Prints ONE JSON value on stdout. Files are written atomically by heat1d.mjs, so whatever is listed in
// frames/index.json is complete. No frame yet is not an error: it prints an empty answer with frames: 0.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const [kind, runDirArg, indexArg] = process.argv.slice(2);
const runDir = runDirArg && !runDirArg.startsWith('{') ? runDirArg : process.cwd();
const framesDir = path.join(runDir, 'frames');

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** How many frames exist so far (0 when the simulation has not written one yet). */
function readIndex() {
  const file = path.join(framesDir, 'index.json');
  if (!existsSync(file)) return { count: 0, total: null };
  const index = readJson(file);
  return { count: Number.isInteger(index.frames) && index.frames > 0 ? index.frames : 0, total: Number.isInteger(index.total) ? index.total : null };
}

function readFrame(i) {
  return readJson(path.join(framesDir, `frame-${i}.json`));
}

function trapezoid(x, u) {
  let s = 0;
  for (let i = 1; i < u.length; i++) s += 0.5 * (u[i] + u[i - 1]) * (x[i] - x[i - 1]);
  return s;
}

const { count, total } = readIndex();
let out;
if (kind === 'temperature') {
  const wanted = indexArg === undefined || indexArg === '' ? 0 : Number(indexArg);
  if (!Number.isInteger(wanted) || wanted < 0) fail(`frame index must be a whole number >= 0, got "${indexArg}"`);
  if (count === 0) {
    out = { frames: 0, total, index: null, frameNumber: null, t: null, x: [], u: [] };
  } else {
    const index = Math.min(wanted, count - 1);
    const f = readFrame(index);
    out = { frames: count, total, index: f.index, frameNumber: f.index + 1, t: f.t, x: f.x, u: f.u };
  }
} else if (kind === 'energy') {
  const t = [];
  const energy = [];
  for (let i = 0; i < count; i++) {
    const f = readFrame(i);
    t.push(f.t);
    energy.push(trapezoid(f.x, f.u));
  }
  out = { frames: count, total, t, energy, units: { t: 's', energy: '°C·m' } };
} else {
  fail(`unknown analysis "${kind}" (known: temperature, energy)`);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
