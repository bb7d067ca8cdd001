/**
 * The README's configuration reference is made from the config schema (src/docs/configReference.ts):
 * this fails when a setting was added, removed or changed without `npm run docs`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS, envName } from '../src/shared/config.js';
import { currentConfigReference, renderConfigReference, replaceConfigReference, typeOf } from '../src/docs/configReference.js';

const README = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README configuration reference', () => {
  it('is what `npm run docs` makes from src/shared/config.ts now (run `npm run docs` to update it)', () => {
    expect(currentConfigReference(README)).toBe(renderConfigReference());
  });

  it('has one row per setting, with its environment variable', () => {
    const block = renderConfigReference();
    for (const name of Object.keys(SETTINGS)) expect(block).toContain(`| \`${name}\` | \`${envName(name)}\` |`);
    expect(block.split('\n').filter((l) => l.startsWith('| `')).length).toBe(Object.keys(SETTINGS).length);
  });

  it('names the types of the schema', () => {
    expect(typeOf(SETTINGS.serverPort[0])).toBe('integer');
    expect(typeOf(SETTINGS.staleCheckSeconds[0])).toBe('number');
    expect(typeOf(SETTINGS.trustProxy[0])).toBe('boolean');
    expect(typeOf(SETTINGS.targets[0])).toBe('JSON');
    expect(typeOf(SETTINGS.dataDir[0])).toBe('string');
    expect(typeOf(SETTINGS.metricsAccess[0])).toBe('open \\| admin \\| token');
  });

  it('is replaced between its markers only, and a README without them is refused', () => {
    const doc = 'before\n<!-- config-reference:start -->\nold\n<!-- config-reference:end -->\nafter\n';
    const out = replaceConfigReference(doc, renderConfigReference());
    expect(out.startsWith('before\n<!-- config-reference:start -->')).toBe(true);
    expect(out.endsWith('<!-- config-reference:end -->\nafter\n')).toBe(true);
    expect(() => replaceConfigReference('no markers', 'x')).toThrow(/config-reference/);
  });
});
