// Counts lines, words and bytes of a text file. Run by jobvisor as:
//   {node} {templateDir}/linecount.mjs --input=<runDir>/inputs/<file> --top=N   (cwd = the run directory)
// Prints PROGRESS lines while it reads, then writes result.json (atomically) in the current directory.
import { createHash } from 'node:crypto';
import { createReadStream, renameSync, statSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)));
const file = args.input;
const top = Number(args.top ?? 10);
if (!file) {
  process.stderr.write('error: no input file given (--input=...)\n');
  process.exit(2);
}
const size = statSync(file).size;
process.stdout.write(`linecount: ${file} (${size} bytes)\n`);

const hash = createHash('sha256');
const words = new Map();
let lines = 0;
let wordCount = 0;
let bytes = 0;
let rest = '';
let nextReport = 0.1;
const count = (line) => {
  lines += 1;
  for (const w of line.toLowerCase().match(/[\p{L}\p{N}_'-]+/gu) ?? []) {
    wordCount += 1;
    words.set(w, (words.get(w) ?? 0) + 1);
  }
};
for await (const chunk of createReadStream(file)) {
  hash.update(chunk);
  bytes += chunk.length;
  const parts = (rest + chunk.toString('utf8')).split('\n');
  rest = parts.pop() ?? '';
  for (const line of parts) count(line);
  const done = size > 0 ? bytes / size : 1;
  if (done >= nextReport && done < 1) {
    process.stdout.write(`PROGRESS ${done.toFixed(3)} read ${bytes} of ${size} bytes\n`);
    nextReport = done + 0.1;
  }
}
if (rest !== '') count(rest);
const result = {
  file: file.split('/').pop(),
  bytes,
  lines,
  words: wordCount,
  top: [...words.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([word, n]) => ({ word, n })),
  sha256: hash.digest('hex'),
};
writeFileSync('result.json.tmp', JSON.stringify(result, null, 2) + '\n');
renameSync('result.json.tmp', 'result.json');
process.stdout.write(`${lines} lines, ${wordCount} words\nPROGRESS 1 done\n`);
