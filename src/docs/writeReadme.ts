/** `npm run docs`: writes the configuration reference into README.md (see configReference.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../shared/config.js';
import { renderConfigReference, replaceConfigReference } from './configReference.js';

const file = path.join(PACKAGE_ROOT, 'README.md');
const before = readFileSync(file, 'utf8');
const after = replaceConfigReference(before, renderConfigReference());
if (after === before) console.log('README.md: configuration reference is up to date');
else {
  writeFileSync(file, after);
  console.log('README.md: configuration reference rewritten');
}
