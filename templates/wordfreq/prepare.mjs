// wordfreq preprocess: checks a text and normalises it into input.txt (cwd = the run directory):
// lower case, letters and digits only, one word per line. The text comes as --file=<path> (an
// uploaded file input, read as UTF-8), or, when that path is empty (no file given), --text=<text>.
// Exits 2 with a message on stderr when the text cannot be used.
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const MAX_BYTES = 10 * 1024 * 1024;

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function readInput(args) {
  const ordered = [...args.filter((a) => a.startsWith('--file=')), ...args.filter((a) => !a.startsWith('--file='))];
  for (const a of ordered) {
    if (a.startsWith('--text=')) return a.slice('--text='.length);
    if (a.startsWith('--file=')) {
      const file = a.slice('--file='.length);
      if (file === '') continue; // no file uploaded: the text parameter counts
      let data;
      try {
        data = readFileSync(file);
      } catch (err) {
        fail(`the input file cannot be read: ${err.code ?? err.message}`);
      }
      if (data.length > MAX_BYTES) fail(`the input file has ${data.length} bytes; at most ${MAX_BYTES} are taken`);
      if (data.includes(0)) fail('the input file is not text (it holds NUL bytes)');
      return data.toString('utf8');
    }
  }
  fail('no input: give --text=<text> or --file=<path>');
}

const text = readInput(process.argv.slice(2));
const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
if (words.length === 0) fail('the text holds no word (letters or digits)');
writeFileSync('input.txt', words.join('\n') + '\n');
console.log(`prepared ${words.length} words (${Buffer.byteLength(text)} bytes of text)`);
