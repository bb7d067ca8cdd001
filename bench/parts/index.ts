/** The parts of `npm run bench`, in the order they run and their rows are printed. */
import type { BenchPart } from '../table.js';
import { throughputPart } from './throughput.js';
import { getPart } from './get.js';
import { listsPart } from './lists.js';
import { ssePart } from './sse.js';
import { agentsPart } from './agents.js';
import { dockerPart } from './docker.js';
import { clusterPart } from './cluster.js';

export const PARTS: BenchPart[] = [throughputPart, getPart, listsPart, ssePart, agentsPart, dockerPart, clusterPart];
