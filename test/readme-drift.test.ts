/**
 * Cheap checks that the README cannot drift from the code: its routes table lists exactly the
 * routes of src/server/access.ts (with the same who-may-call), its job view table names exactly
 * the fields of the JobView answer schema, and every link to a heading inside it (#anchor) exists.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTE_ACCESS } from '../src/server/access.js';
import { JobViewAnswer } from '../src/shared/answers/jobs.js';
import { anchorsOf, linkedAnchors, section, slug, tableRows } from './helpers/readme.js';

const README = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README routes table', () => {
  const rows = tableRows(section(README, '### Routes', '## HTTP API'));
  const listed = new Map<string, string>();
  for (const r of rows) {
    const m = /^`([^`]+)`$/.exec(r[1] ?? '');
    if (!/^(GET|POST|PUT|PATCH|DELETE)$/.test(r[0] ?? '') || !m) continue;
    const key = `${r[0]} ${m[1]!.replace('<path>', '*path')}`;
    expect(listed.has(key), `${key} is listed twice`).toBe(false);
    listed.set(key, r[2] ?? '');
  }

  it('lists every route of src/server/access.ts, and no other', () => {
    const routes = Object.keys(ROUTE_ACCESS).sort();
    expect([...listed.keys()].sort()).toEqual(routes);
  });

  it('says who may call each route as access.ts does', () => {
    const wrong: string[] = [];
    for (const [key, who] of listed) {
      const access = ROUTE_ACCESS[key as keyof typeof ROUTE_ACCESS];
      const said = /^anyone/.test(who) ? 'open' : /^admin|\(default admin\)/.test(who) ? 'admin' : 'user';
      if (said !== access) wrong.push(`${key}: README says "${who}", access.ts says ${access}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('README job view table', () => {
  it('names every field of the JobView answer (src/shared/answers/jobs.ts), and no other', () => {
    const rows = tableRows(section(README, '### The job view', '## HTTP API'));
    const named = rows.flatMap((r) => [...(r[0] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThan(10);
    expect([...new Set(named)].sort()).toEqual(Object.keys(JobViewAnswer.shape).sort());
  });

  it('says that waitingFor may be "queued"', () => {
    const row = tableRows(section(README, '### The job view', '## HTTP API')).find((r) => (r[0] ?? '').includes('`waitingFor`'));
    expect(row?.[1]).toContain('"queued"');
  });
});

describe('README table of contents', () => {
  it('links every ## section, in the order of the README', () => {
    const toc = section(README, '## Contents');
    const linked = [...toc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    const sections = README.split('\n')
      .filter((l) => l.startsWith('## ') && l !== '## Contents')
      .map((l) => slug(l.slice(3)));
    expect(linked).toEqual(sections);
  });
});

describe('README links', () => {
  it('every #anchor it links to is one of its headings', () => {
    const anchors = anchorsOf(README);
    const broken = linkedAnchors(README).filter((a) => !anchors.has(a));
    expect(broken).toEqual([]);
  });

  it('makes GitHub anchors the way GitHub does', () => {
    const a = anchorsOf('# Cluster targets (Slurm, Grid Engine)\n## Kept runs (`keepRuns`)\n## Events (`GET /api/events`)\n## Upgrading from 0.1\n## Routes\n### Routes\n');
    expect([...a]).toEqual(['cluster-targets-slurm-grid-engine', 'kept-runs-keepruns', 'events-get-apievents', 'upgrading-from-01', 'routes', 'routes-1']);
  });
});
