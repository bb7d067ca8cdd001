/**
 * The configured targets, as the supervisor uses them: which targets and sizes a template
 * allows, what a run request asks for (target, size, options), and how the words of jobvisor
 * 0.1 read today. jobvisor 0.1 had "run modes": `sequential` and `parallel` were sizes on this
 * machine or Docker, and a backend's own run mode (its `legacyRunMode`) meant its cluster.
 */
import type { RunBody, RunOptions, TargetView } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import type { Template } from '../shared/template.js';
import { SIZES, Size } from '../shared/types.js';
import type { Backend, Driver } from '../drivers/driver.js';
import type { LegacyPlacement } from './store.js';

export interface RunPlace {
  driver: Driver;
  size: Size;
  options: RunOptions | null;
}

const isSize = (v: string): v is Size => (SIZES as readonly string[]).includes(v);

export class Targets {
  constructor(
    private readonly drivers: ReadonlyMap<string, Driver>,
    private readonly backends: ReadonlyMap<string, Backend>,
  ) {}

  get(name: string): Driver | undefined {
    return this.drivers.get(name);
  }

  /** The target of a route (`/targets/:target`), or TARGET_NOT_FOUND. */
  require(name: string): Driver {
    const d = this.drivers.get(name);
    if (!d) throw new JobvisorError('TARGET_NOT_FOUND', `no target ${name}; targets: ${this.names().join(', ')}`);
    return d;
  }

  all(): Driver[] {
    return [...this.drivers.values()];
  }

  names(): string[] {
    return [...this.drivers.keys()];
  }

  /** The targets a template may run on, in the config's order. */
  allowed(t: Template): Driver[] {
    const all = this.all();
    if (t.targets) return all.filter((d) => t.targets?.includes(d.info.name) || t.targets?.includes(d.info.kind));
    if (!t.runModes) return all;
    const legacyKinds = new Set([...this.backends.values()].filter((b) => b.legacyRunMode && t.runModes?.includes(b.legacyRunMode)).map((b) => b.kind));
    const hostModes = t.runModes.some(isSize);
    return all.filter((d) => legacyKinds.has(d.info.kind) || (hostModes && !d.info.needsLogin));
  }

  /** The names in a template's `targets` that are neither a target nor a driver here (a typo, or a target the site removed). */
  unknownNames(t: Template): string[] {
    return (t.targets ?? []).filter((n) => !this.drivers.has(n) && !this.backends.has(n));
  }

  /** The sizes a template allows, the first being its default. */
  sizes(t: Template): Size[] {
    if (t.sizes) return t.sizes;
    const legacy = (t.runModes ?? []).filter(isSize);
    if (legacy.length > 0) return legacy;
    // A 0.1 template that ran on a cluster only: its runs there were long ones, as 0.1 requests for it are read.
    return t.runModes ? ['parallel', 'sequential'] : [...SIZES];
  }

  /** Where a run request goes: its target and size (or the template's defaults), and its options. */
  place(t: Template, body: RunBody): RunPlace {
    const allowed = this.allowed(t);
    const { target, size, options } = this.readLegacy(body);
    const driver = target === undefined ? allowed[0] : this.drivers.get(target);
    if (target !== undefined && !driver) throw new JobvisorError('UNKNOWN_TARGET', `no target "${target}"; targets: ${this.names().join(', ')}`);
    if (!driver || !allowed.includes(driver)) {
      const names = allowed.map((d) => d.info.name);
      throw new JobvisorError('TARGET_NOT_ALLOWED', names.length ? `template ${t.name} runs on ${names.join(', ')}${target ? `, not ${target}` : ''}` : `template ${t.name} allows none of the configured targets`);
    }
    const sizes = this.sizes(t);
    const chosen = size ?? sizes[0] ?? 'sequential';
    if (!sizes.includes(chosen)) throw new JobvisorError('SIZE_NOT_ALLOWED', `template ${t.name} runs as ${sizes.join(' or ')}, not ${chosen}`);
    return { driver, size: chosen, options };
  }

  /** A 0.1 request's run mode and options, read as a target, a size and options. Any other unknown key is refused. */
  private readLegacy(body: RunBody): { target?: string; size?: Size; options: RunOptions | null } {
    const { template: _t, parameters: _p, target, size, jobKey: _k, options, runMode, inputs: _i, notify: _n, callbackUrl: _c, requires: _r, ...rest } = body;
    let out: { target?: string; size?: Size; options: RunOptions | null } = { target, size, options: options ?? null };
    if (runMode !== undefined) {
      if (isSize(runMode)) out = { ...out, size: out.size ?? runMode };
      else {
        const backend = [...this.backends.values()].find((b) => b.legacyRunMode === runMode);
        const driver = backend && this.all().find((d) => d.info.kind === backend.kind);
        if (!driver) throw new JobvisorError('UNKNOWN_TARGET', `run mode "${runMode}" names no configured target; targets: ${this.names().join(', ')}`);
        out = { ...out, target: out.target ?? driver.info.name, size: out.size ?? 'parallel' };
      }
    }
    for (const [key, value] of Object.entries(rest)) {
      const backend = [...this.backends.values()].find((b) => b.legacyOptionsKey === key);
      if (!backend) throw new JobvisorError('INVALID_INPUT', `request body is not valid: (body): unrecognized key: "${key}"`);
      out = { ...out, options: { ...value, ...out.options } };
    }
    return out;
  }

  /** How the run modes and driver names of a jobvisor 0.1 database read today. */
  readonly legacyPlacement: LegacyPlacement = (runMode, driverName) => {
    const all = this.all();
    const backend = [...this.backends.values()].find((b) => b.legacyRunMode !== undefined && (b.legacyRunMode === runMode || b.legacyRunMode === driverName));
    if (backend) {
      const d = all.find((x) => x.info.kind === backend.kind);
      return { target: d?.info.name ?? backend.legacyRunMode ?? backend.kind, driver: backend.kind, size: 'parallel' };
    }
    const d = all.find((x) => x.info.kind === driverName) ?? all.find((x) => !x.info.needsLogin) ?? all[0];
    return { target: d?.info.name ?? driverName, driver: d?.info.kind ?? driverName, size: isSize(runMode) ? runMode : 'sequential' };
  };

  view(d: Driver, login: TargetView['login']): TargetView {
    const i = d.info;
    return {
      name: i.name,
      driver: i.kind,
      title: i.title,
      needsLogin: i.needsLogin,
      host: i.host,
      maxTimeSeconds: { sequential: d.maxTimeSeconds('sequential'), parallel: d.maxTimeSeconds('parallel') },
      options: i.options,
      login,
    };
  }
}
