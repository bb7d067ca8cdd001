/** The parts of `npm run bench`, in the order they run and their rows are printed. */
import type { BenchPart } from '../table.js';
import { throughputPart } from './throughput.js';
import { getPart } from './get.js';

export const PARTS: BenchPart[] = [throughputPart, getPart];
