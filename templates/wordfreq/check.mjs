// wordfreq postprocess: checks the command's results (cwd = the run directory). Exits 1 with a
// message on stderr when result.json is missing or inconsistent, which fails the run.
import { existsSync, readFileSync } from 'node:fs';
import process from 'node:process';

function reject(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

if (!existsSync('result.json')) reject('no result produced: result.json is missing');
let r;
try {
  r = JSON.parse(readFileSync('result.json', 'utf8'));
} catch (err) {
  reject(`result.json is not JSON: ${err.message}`);
}
if (!Array.isArray(r.top) || !Number.isInteger(r.counted) || !Number.isInteger(r.distinct)) reject('result.json lacks its totals or its top words');
if (r.counted === 0) reject(`no word of at least ${r.minLength} characters was counted`);
let sum = 0;
for (let i = 0; i < r.top.length; i++) {
  const { word, count } = r.top[i];
  if (typeof word !== 'string' || !Number.isInteger(count) || count < 1) reject(`result.json: top word ${i + 1} is not a word with a count`);
  if (i > 0 && count > r.top[i - 1].count) reject('result.json: the top words are not sorted by count');
  sum += count;
}
if (sum > r.counted || r.distinct > r.counted) reject('result.json: the counts add up to more than the words counted');
if (!existsSync('frequencies.csv')) reject('no result produced: frequencies.csv is missing');
console.log(`results checked: ${r.counted} words, ${r.distinct} distinct, top ${r.top.length} listed`);
