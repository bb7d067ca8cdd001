/** The reload rules of the supervisor's template catalog (src/supervisor/templates.ts), on a real folder. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/shared/logger.js';
import { TemplateCatalog } from '../src/supervisor/templates.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-catalog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(folder: string, name: string, title: string): void {
  mkdirSync(path.join(dir, folder), { recursive: true });
  writeFileSync(path.join(dir, folder, 'template.json'), JSON.stringify({ name, title, timeLimitSeconds: 5, parameters: {}, command: ['true'] }));
}

describe('the template catalog', () => {
  it('keeps a name with the folder that had it, keeps last good versions, and pins changed versions for active runs', () => {
    let active = [{ id: 'j1', serial: 1, template: 'x' }];
    const c = new TemplateCatalog({ dir, log: createLogger('test', 'silent'), activeRuns: () => active });
    write('b', 'x', 'first');
    expect(c.reload('start')).toMatchObject({ loaded: ['x'], problems: [] });
    // A folder sorting first claims the same name: the folder that had it keeps it.
    write('a', 'x', 'intruder');
    const dup = c.reload('test');
    expect(dup.changed).toEqual([]);
    expect(dup.problems).toEqual([expect.objectContaining({ file: path.join(dir, 'a', 'template.json'), field: 'name' })]);
    expect(c.current.get('x')?.title).toBe('first');
    rmSync(path.join(dir, 'a'), { recursive: true });

    // Changed while run j1#1 is active: the run keeps the version it started with.
    write('b', 'x', 'second');
    expect(c.reload('test').changed).toEqual(['x']);
    expect(c.current.get('x')?.title).toBe('second');
    expect(c.forRun({ id: 'j1', serial: 1, template: 'x' })?.title).toBe('first');
    expect(c.forRun({ id: 'j2', serial: 1, template: 'x' })?.title).toBe('second');

    // Broken: the last good version stays offered; the run's pin stays while it is active.
    writeFileSync(path.join(dir, 'b', 'template.json'), '{"name": "x", ');
    const broken = c.reload('test');
    expect(broken).toMatchObject({ changed: [], removed: [], kept: [expect.objectContaining({ name: 'x' })] });
    expect(broken.problems[0]?.message).toMatch(/^not valid JSON: .*\(still offering the version loaded at /);
    expect(c.current.get('x')?.title).toBe('second');
    expect(c.view().pinnedRuns).toBe(1);

    // The run ended: its pin goes at the next reload; a removed folder removes the template.
    active = [];
    rmSync(path.join(dir, 'b'), { recursive: true });
    expect(c.reload('test')).toMatchObject({ removed: ['x'], problems: [] });
    expect(c.forRun({ id: 'j1', serial: 1, template: 'x' })).toBeUndefined();
    expect(c.view().pinnedRuns).toBe(0);
  });
});
