/** Labels and requirements (src/shared/labels.ts): exact values, version comparisons, parsing, allowed labels of a token. */
import { describe, expect, it } from 'vitest';
import { compareVersions, meets, parseLabelList, Requires, unmet } from '../src/shared/labels.js';
import { labelsOutside } from '../src/supervisor/workers/pool.js';

describe('labels and requirements', () => {
  it('matches exact values and compares versions of name@version and of plain version labels', () => {
    expect(meets('a100', 'a100')).toBe(true);
    expect(meets('a100', 'h100')).toBe(false);
    expect(meets(undefined, 'a100')).toBe(false);
    expect(meets('lammps@2023', 'lammps>=2022')).toBe(true);
    expect(meets('lammps@2023', 'lammps>=2024')).toBe(false);
    expect(meets('lammps@2023', 'lammps<2024')).toBe(true);
    expect(meets('lammps@2023', 'lammps=2023')).toBe(true);
    expect(meets('gromacs@2023', 'lammps>=2022')).toBe(false);
    expect(meets('12.2', '>=12')).toBe(true);
    expect(meets('11.8', '>12')).toBe(false);
    expect(meets('2023', '<=2023')).toBe(true);
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('2.0', '2')).toBe(0);
  });

  it('says which requirements a place does not meet', () => {
    const labels = parseLabelList('os=linux,gpu=a100,code=lammps@2023');
    expect(labels).toEqual({ os: 'linux', gpu: 'a100', code: 'lammps@2023' });
    expect(unmet({ gpu: 'a100', code: 'lammps>=2022' }, labels)).toEqual([]);
    expect(unmet({ gpu: 'h100', code: 'lammps>=2024', os: 'linux' }, labels)).toEqual(['gpu=h100', 'code lammps>=2024']);
  });

  it('refuses malformed labels and requirements', () => {
    expect(() => parseLabelList('os')).toThrow(/not key=value/);
    expect(() => parseLabelList('os=li nux')).toThrow(/label value/);
    expect(Requires.safeParse({ gpu: 'a100>' }).success).toBe(false);
    expect(Requires.safeParse({ code: 'lammps>=>2' }).success).toBe(false);
    expect(Requires.safeParse({ code: 'lammps>=2022', cuda: '>=12' }).success).toBe(true);
  });

  it('allows a worker only the labels its token allows ("*": any value)', () => {
    expect(labelsOutside({ os: 'linux', gpu: 'a100' }, null)).toEqual([]);
    expect(labelsOutside({ os: 'linux', gpu: 'a100' }, { os: 'linux', gpu: '*' })).toEqual([]);
    expect(labelsOutside({ os: 'windows', site: 'x' }, { os: 'linux' })).toEqual(['os=windows', 'site=x']);
  });
});
