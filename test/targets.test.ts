/**
 * Where runs go, as a pure function of the configured targets: which targets and sizes a
 * template allows, where a run request goes (its defaults, its errors), and how the words of
 * jobvisor 0.1 (run modes, a cluster's options under its own key, database rows) read today.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, createDrivers } from '../src/drivers/registry.js';
import { RunBody } from '../src/shared/api.js';
import { loadConfig } from '../src/shared/config.js';
import { JobvisorError } from '../src/shared/errors.js';
import { createLogger } from '../src/shared/logger.js';
import { parseTemplate, type Template } from '../src/shared/template.js';
import { Targets } from '../src/supervisor/targets.js';
import { ROOT } from './helpers/jobvisor.js';

const KNOWN = ['[h]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyCVZrGkpsBRtjZrFSnt1vwIpYXOTvGr1BjYc5CMWtM'];
const config = loadConfig({
  JOBVISOR_TEMPLATES_DIR: path.join(ROOT, 'templates'),
  JOBVISOR_TARGETS: JSON.stringify([
    { name: 'here', driver: 'local' },
    { name: 'boxes', driver: 'docker' },
    { name: 'hpc', driver: 'slurm', title: 'HPC', host: 'h', knownHosts: KNOWN, limits: { maxNodes: 2, maxCpusPerTask: 8, maxMinutes: 60, partitions: ['debug', 'regular'] } },
    { name: 'grid', driver: 'sge', host: 'h', knownHosts: KNOWN, limits: { maxSlots: 4, queues: ['all.q'] } },
  ]),
});
const targets = new Targets(createDrivers(config, createLogger('targets-test', 'silent')), BACKENDS);

const template = (extra: Record<string, unknown>): Template =>
  parseTemplate({ name: 't', title: 'T', parameters: {}, command: ['true'], timeLimitSeconds: 600, ...extra }, '/nowhere');

function placed(t: Template, body: Record<string, unknown>) {
  const p = targets.place(t, RunBody.parse({ template: 't', ...body }));
  return { target: p.driver.info.name, size: p.size, options: p.options };
}

function refused(t: Template, body: Record<string, unknown>): string {
  try {
    targets.place(t, RunBody.parse({ template: 't', ...body }));
  } catch (err) {
    if (err instanceof JobvisorError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'accepted';
}

describe('targets', () => {
  it('lets a template name targets or driver kinds, and defaults to every target in the config\'s order', () => {
    const names = (t: Template) => targets.allowed(t).map((d) => d.info.name);
    expect(names(template({}))).toEqual(['here', 'boxes', 'hpc', 'grid']);
    expect(names(template({ targets: ['sge', 'here'] }))).toEqual(['here', 'grid']);
    expect(names(template({ targets: ['hpc'] }))).toEqual(['hpc']);
    expect(targets.unknownNames(template({ targets: ['hpc', 'hcp', 'pbs'] }))).toEqual(['hcp', 'pbs']);
    expect(targets.sizes(template({}))).toEqual(['sequential', 'parallel']);
    expect(targets.sizes(template({ sizes: ['parallel'] }))).toEqual(['parallel']);
  });

  it('places a run: the first allowed target and size by default, or what it names; refuses what the template does not allow', () => {
    const t = template({ targets: ['local', 'slurm'], sizes: ['parallel', 'sequential'] });
    expect(placed(t, {})).toEqual({ target: 'here', size: 'parallel', options: null });
    expect(placed(t, { target: 'hpc', size: 'sequential', options: { partition: 'debug' } })).toEqual({ target: 'hpc', size: 'sequential', options: { partition: 'debug' } });
    expect(refused(t, { target: 'grid' })).toBe('TARGET_NOT_ALLOWED: template t runs on here, hpc, not grid');
    expect(refused(t, { target: 'mars' })).toBe('UNKNOWN_TARGET: no target "mars"; targets: here, boxes, hpc, grid');
    expect(refused(template({ sizes: ['parallel'] }), { size: 'sequential' })).toBe('SIZE_NOT_ALLOWED: template t runs as parallel, not sequential');
    expect(refused(template({ targets: ['pbs'] }), {})).toBe('TARGET_NOT_ALLOWED: template t allows none of the configured targets');
  });

  it('reads 0.1 run requests, templates and database rows', () => {
    const t = template({});
    expect(placed(t, { runMode: 'parallel' })).toEqual({ target: 'here', size: 'parallel', options: null });
    expect(placed(t, { runMode: 'sbatch', slurm: { minutes: 5 } })).toEqual({ target: 'hpc', size: 'parallel', options: { minutes: 5 } });
    expect(refused(t, { runMode: 'pbs' })).toBe('UNKNOWN_TARGET: run mode "pbs" names no configured target; targets: here, boxes, hpc, grid');
    expect(refused(t, { sge: { queue: 'all.q' } })).toBe('INVALID_INPUT: request body is not valid: (body): unrecognized key: "sge"');
    const old = template({ runModes: ['sequential', 'sbatch'] });
    expect(targets.allowed(old).map((d) => d.info.name)).toEqual(['here', 'boxes', 'hpc']);
    expect(targets.sizes(old)).toEqual(['sequential']);
    expect(targets.sizes(template({ runModes: ['sbatch'] }))).toEqual(['parallel', 'sequential']);
    expect(targets.legacyPlacement('sbatch', 'sbatch')).toEqual({ target: 'hpc', driver: 'slurm', size: 'parallel' });
    expect(targets.legacyPlacement('parallel', 'docker')).toEqual({ target: 'boxes', driver: 'docker', size: 'parallel' });
    expect(targets.legacyPlacement('sequential', 'local')).toEqual({ target: 'here', driver: 'local', size: 'sequential' });
  });

  it('has each driver check the options of a run against its own schema and the site\'s limits', () => {
    const check = (target: string, options: Record<string, unknown> | null, size: 'sequential' | 'parallel' = 'parallel') => {
      try {
        targets.require(target).checkRun({ template: template({}), size, options: options as never });
        return 'ok';
      } catch (err) {
        return `${(err as JobvisorError).code}: ${(err as JobvisorError).message}`;
      }
    };
    expect(check('hpc', { partition: 'debug', nodes: 2, minutes: 10 })).toBe('ok');
    expect(check('hpc', { nodes: 3 })).toBe('RESOURCES_EXCEED_LIMIT: 3 nodes asked for; this cluster allows 2 at most');
    expect(check('hpc', { minutes: 61 })).toBe('RESOURCES_EXCEED_LIMIT: 61 minutes asked for; this run may take 10 at most');
    expect(check('hpc', { queue: 'all.q' })).toMatch(/^INVALID_INPUT: options of a run on hpc: options: Unrecognized key: "queue"/);
    expect(check('hpc', { cpusPerTask: 8, tasksPerNode: 1 })).toBe('ok');
    expect(check('hpc', { cpusPerTask: 9 })).toBe('RESOURCES_EXCEED_LIMIT: 9 CPUs per task asked for; this cluster allows 8 at most');
    expect(check('hpc', { tasksPerNode: 2 })).toBe('RESOURCES_EXCEED_LIMIT: 2 tasks per node asked for; this cluster allows 1 at most');
    expect(check('hpc', { partition: 'gpu' })).toBe('INVALID_INPUT: partition gpu is not one this site offers (debug, regular)');
    expect(check('grid', { queue: 'all.q', slots: 4 })).toBe('ok');
    expect(check('grid', { queue: 'big.q' })).toBe('INVALID_INPUT: queue big.q is not one this site offers (all.q)');
    expect(check('grid', { slots: 5 })).toBe('RESOURCES_EXCEED_LIMIT: 5 slots asked for; this cluster allows 4 at most');
    expect(check('grid', { partition: 'debug' })).toMatch(/^INVALID_INPUT: options of a run on grid/);
    expect(check('here', { partition: 'debug' })).toBe('INVALID_INPUT: target here (local) takes no run options; got partition');
    expect(check('boxes', null)).toBe('ok');
    // A cluster target's longest run is within its script limit (limits.maxMinutes).
    expect([targets.require('hpc').maxTimeSeconds('parallel'), targets.require('grid').maxTimeSeconds('parallel')]).toEqual([3600, 86400]);
  });

  it('refuses at start a site whose own defaults do not fit its limits', () => {
    const site = (t: Record<string, unknown>) => () => createDrivers(loadConfig({ JOBVISOR_TARGETS: JSON.stringify([t]) }), createLogger('targets-test', 'silent'));
    expect(site({ name: 'hpc', driver: 'slurm', host: 'h', knownHosts: KNOWN, defaults: { partition: 'gpu' }, limits: { partitions: ['debug'] } })).toThrow(
      /target hpc \(driver slurm\) is not valid: target\.defaults: the defaults do not fit the limits: partition gpu is not one this site offers \(debug\)/,
    );
    expect(site({ name: 'grid', driver: 'sge', host: 'h', knownHosts: KNOWN, defaults: { slots: 2 } })).toThrow(/target\.defaults: the defaults do not fit the limits: 2 slots asked for/);
  });
});
