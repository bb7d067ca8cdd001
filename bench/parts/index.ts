/** The parts of `npm run bench`, in the order they run and their rows are printed. */
import type { BenchPart } from '../table.js';
import { listsPart } from './lists.js';

export const PARTS: BenchPart[] = [
  // each part adds itself here: one import and one entry, e.g. `throughput` from './throughput.js'
  listsPart,
];
