// wordfreq command: counts the words of input.txt (one per line, as prepare.mjs wrote it) that are
// at least <minLength> characters long; writes result.json (totals, the <top> most frequent words)
// and frequencies.csv (word,count for every counted word, most frequent first). cwd = the run directory.
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const [top, minLength] = process.argv.slice(2).map(Number);
const words = readFileSync('input.txt', 'utf8').split('\n').filter((w) => w.length > 0);
const counts = new Map();
const chunks = Math.min(10, Math.max(1, words.length));
const size = Math.ceil(words.length / chunks);
let counted = 0;
for (let c = 0; c < chunks; c++) {
  for (const w of words.slice(c * size, (c + 1) * size)) {
    if ([...w].length < minLength) continue;
    counts.set(w, (counts.get(w) ?? 0) + 1);
    counted++;
  }
  console.log(`PROGRESS ${((c + 1) / chunks).toFixed(3)} chunk ${c + 1} of ${chunks}`);
}
const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
const result = { words: words.length, counted, distinct: counts.size, minLength, top: sorted.slice(0, top).map(([word, count]) => ({ word, count })) };
writeFileSync('result.json', JSON.stringify(result, null, 2) + '\n');
writeFileSync('frequencies.csv', 'word,count\n' + sorted.map(([w, n]) => `${w},${n}`).join('\n') + (sorted.length ? '\n' : ''));
console.log(`${counted} words counted, ${counts.size} distinct; most frequent: ${sorted.slice(0, 3).map(([w, n]) => `${w} (${n})`).join(', ') || 'none'}`);
