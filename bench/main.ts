/**
 * `npm run bench`: every part of the bench in one run, then one table (bench/table.ts) of
 * measure, floor or peer, jobvisor, ratio, target and pass/fail. Each part starts what it needs
 * (jobvisor, Redis, agents, clients) and stops it again; a part whose service is not up (the
 * Docker engine, the test clusters) reports its rows as skipped.
 *
 *   npm run bench                               (build, then every part, 3 repeats each)
 *   node dist/bench/main.js --only lists,sse    (some parts)
 *   node dist/bench/main.js --quick             (short runs, to check that the parts work)
 *
 * The table and every figure go to bench/results/bench-<ISO date>.json (not committed).
 * The exit code is 1 when a row failed or a part broke, 0 otherwise.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable, type BenchPart, type BenchRow } from './table.js';
import { PARTS } from './parts/index.js';

const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      repeats: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: node dist/bench/main.js [--only ${PARTS.map((p) => p.name).join(',')}] [--quick] [--repeats N]\n`);
    return 0;
  }
  const names = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names?.filter((n) => !PARTS.some((p) => p.name === n)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown part ${unknown.join(', ')}; the parts are ${PARTS.map((p) => p.name).join(', ')}\n`);
    return 2;
  }
  const repeats = values.repeats === undefined ? (values.quick ? 1 : 3) : Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) {
    process.stderr.write(`bench: --repeats must be a whole number >= 1, got "${values.repeats}"\n`);
    return 2;
  }
  const parts: BenchPart[] = names ? PARTS.filter((p) => names.includes(p.name)) : PARTS;
  const rows: BenchRow[] = [];
  let broken = 0;
  for (const part of parts) {
    const log = (line: string) => process.stderr.write(`[${part.name}] ${line}\n`);
    log('starting');
    const started = performance.now();
    try {
      rows.push(...(await part.run({ repeats, quick: values.quick, log })));
    } catch (err) {
      broken++;
      log(`broke: ${(err as Error).stack ?? String(err)}`);
      rows.push({ measure: part.name, peer: '-', jobvisor: '-', ratio: '-', target: '-', pass: false, note: `the part broke: ${(err as Error).message}` });
    }
    log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const table = formatTable(rows);
  process.stdout.write(`\n${table}\n`);
  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), repeats, quick: values.quick, rows }, null, 2));
  process.stdout.write(`\nwritten to ${path.relative(process.cwd(), file)}\n`);
  return broken > 0 || rows.some((r) => r.pass === false) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
