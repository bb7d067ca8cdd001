/** Units of a worker's template copies (src/agent/templateCache.ts): paths that leave the folder, a file whose hash does not match, the override. */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTemplateFiles } from '../src/agent/templateCache.js';
import { Op } from '../src/shared/protocol.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-template-cache-'));
const dir = path.join(base, 'templates');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = (p: string, content: string, hash = sha(content)) => ({ path: p, sha256: hash, size: Buffer.byteLength(content), executable: false });
const write = (name: string, f: ReturnType<typeof file>, content: string) =>
  runTemplateFiles({ dir, override: false }, { kind: 'templateFiles', action: 'write', name, file: f, offset: 0, dataBase64: Buffer.from(content).toString('base64') });

describe('template copies on a worker', () => {
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('refuses paths that leave the template folder, at the schema and in the worker', async () => {
    for (const p of ['../x', 'a/../../x', '/etc/passwd', '.jobvisor-files.json', './a']) {
      expect(Op.safeParse({ kind: 'templateFiles', action: 'write', name: 't', file: file(p, 'x'), dataBase64: 'eA==' }).success, p).toBe(false);
      await expect(write('t', file(p, 'x'), 'x')).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
    }
    expect(existsSync(path.join(base, 'x'))).toBe(false);
    expect(existsSync(path.join(base, '.jobvisor-incoming'))).toBe(false);
  });

  it('puts a file in place only when its hash matches, and answers what it lacks', async () => {
    const good = file('run.sh', 'echo hi\n');
    expect(await runTemplateFiles({ dir, override: false }, { kind: 'templateFiles', action: 'check', name: 't', files: [good], offset: 0 })).toEqual({ missing: ['run.sh'], override: false });
    await expect(write('t', file('run.sh', 'echo hi\n', sha('other')), 'echo hi\n')).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
    expect(existsSync(path.join(dir, 't', 'run.sh'))).toBe(false);
    expect(await write('t', good, 'echo hi\n')).toEqual({ size: 8 });
    expect(readFileSync(path.join(dir, 't', 'run.sh'), 'utf8')).toBe('echo hi\n');
    expect(await runTemplateFiles({ dir, override: false }, { kind: 'templateFiles', action: 'check', name: 't', files: [good], offset: 0 })).toEqual({ missing: [], override: false });
  });

  it('sends nothing to a worker with its own copy', async () => {
    expect(await runTemplateFiles({ dir, override: true }, { kind: 'templateFiles', action: 'check', name: 't', files: [file('a', 'b')], offset: 0 })).toEqual({ missing: [], override: true });
    await expect(runTemplateFiles({ dir, override: true }, { kind: 'templateFiles', action: 'write', name: 't', file: file('a', 'b'), offset: 0, dataBase64: 'Yg==' })).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
    await expect(runTemplateFiles(undefined, { kind: 'templateFiles', action: 'check', name: 't', files: [], offset: 0 })).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
  });
});
