/**
 * The templates the supervisor offers, reloaded without downtime: from the templates folder at
 * start, then again when the folder changes (fs.watch, debounced; watching may miss events on
 * some filesystems), on SIGHUP, and on `POST /api/admin/templates/reload`.
 *
 * Rules of a (re)load:
 * - A template with a problem is reported (logged, listed in `GET /api/admin/templates`) and
 *   skipped; every other template and the running service go on. Nothing is ever fatal: a
 *   missing or empty folder leaves no templates offered, and is reported as a problem.
 * - A template that was good and becomes bad (same folder) keeps its last good version, and the
 *   problem says so: a typo while editing never takes a template away from users. A template
 *   whose folder (or template.json) is removed is removed.
 * - Runs queued or running when a template changes or goes keep the version they started with
 *   (its definition: command, time limit, progress, analyses), until they end; the files in the
 *   template's folder are those on disk when the command starts. After a supervisor restart,
 *   active runs use the version then loaded.
 * The map `current` is shared (the job service reads it) and changed in place.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';
import type { Template } from '../shared/template.js';
import { formatProblem, scanTemplates, type TemplateProblem } from '../shared/templateCheck.js';
import type { JobRow } from './store.js';

export interface KeptTemplate {
  name: string;
  file: string;
  /** When the version still offered was loaded (ms since the epoch). */
  loadedAt: number;
}

export interface TemplatesReload {
  at: number;
  /** What asked for it: start, watch, SIGHUP, admin. */
  trigger: string;
  /** New names; changed definitions; names no longer offered. */
  loaded: string[];
  changed: string[];
  removed: string[];
  /** Templates whose file became bad, still offered in their last good version. */
  kept: KeptTemplate[];
  problems: TemplateProblem[];
}

export interface TemplateCatalogOptions {
  dir: string;
  log: Logger;
  /** The runs queued or running now (they keep their template's version). */
  activeRuns: () => Pick<JobRow, 'id' | 'serial' | 'template'>[];
  /** Called for each template new or changed (e.g. to warn about targets the site lacks). */
  onLoaded?: (t: Template) => void;
  debounceMs?: number;
}

interface Loaded {
  template: Template;
  at: number;
}

const pinKey = (id: string, serial: number) => `${id}#${serial}`;

export class TemplateCatalog {
  /** The templates offered now, by name. */
  readonly current = new Map<string, Template>();
  /** The last good version per folder. */
  private readonly byFolder = new Map<string, Loaded>();
  /** Versions that active runs started with and that changed since, by job id and serial. */
  private readonly pins = new Map<string, Template>();
  private last: TemplatesReload;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;

  constructor(private readonly o: TemplateCatalogOptions) {
    this.last = { at: 0, trigger: 'none', loaded: [], changed: [], removed: [], kept: [], problems: [] };
  }

  /** Reads the folder again and applies it (see the rules above). Never throws. */
  reload(trigger: string): TemplatesReload {
    if (!this.o.dir) return this.last; // a fixed set (offer)
    const now = Date.now();
    const holder = (name: string) => {
      const t = this.current.get(name);
      return t ? t.dir : undefined;
    };
    let scan;
    try {
      scan = scanTemplates(this.o.dir, holder);
    } catch (err) {
      scan = { templates: new Map<string, Template>(), folders: [], problems: [{ file: this.o.dir, field: '', message: `cannot be read: ${(err as Error).message}` }] };
    }
    const next = new Map<string, Template>();
    const nextByFolder = new Map<string, Loaded>();
    const kept: KeptTemplate[] = [];
    for (const f of scan.folders) {
      const before = this.byFolder.get(f.folder);
      if (f.template) {
        const same = before && JSON.stringify(before.template) === JSON.stringify(f.template);
        nextByFolder.set(f.folder, same && before ? before : { template: f.template, at: now });
        next.set(f.template.name, same && before ? before.template : f.template);
      } else if (before && !scan.templates.has(before.template.name) && !next.has(before.template.name)) {
        nextByFolder.set(f.folder, before);
        next.set(before.template.name, before.template);
        kept.push({ name: before.template.name, file: f.file, loadedAt: before.at });
      }
    }
    const loaded = [...next.keys()].filter((n) => !this.current.has(n));
    const changed = [...next.keys()].filter((n) => this.current.has(n) && this.current.get(n) !== next.get(n));
    const removed = [...this.current.keys()].filter((n) => !next.has(n));
    this.pinActive(new Set([...changed, ...removed]));
    this.current.clear();
    for (const [n, t] of next) this.current.set(n, t);
    this.byFolder.clear();
    for (const [k, v] of nextByFolder) this.byFolder.set(k, v);
    for (const n of [...loaded, ...changed]) this.o.onLoaded?.(next.get(n) as Template);
    const problems = scan.problems.map((p) => {
      const k = kept.find((x) => x.file === p.file);
      return k ? { ...p, message: `${p.message} (still offering the version loaded at ${new Date(k.loadedAt).toISOString()})` } : p;
    });
    this.last = { at: now, trigger, loaded, changed, removed, kept, problems };
    this.report(this.last);
    return this.last;
  }

  /** Offers a template of a fixed set (a catalog without a folder: tests). */
  offer(t: Template): void {
    this.current.set(t.name, t);
    this.byFolder.set(t.dir, { template: t, at: Date.now() });
  }

  /** The template a run uses: the version it started with if that changed since, else the current one. */
  forRun(row: Pick<JobRow, 'id' | 'serial' | 'template'>): Template | undefined {
    return this.pins.get(pinKey(row.id, row.serial)) ?? this.current.get(row.template);
  }

  /** What `GET /api/admin/templates` answers. */
  view() {
    const folderOf = (t: Template) => path.basename(t.dir);
    return {
      dir: this.o.dir,
      watching: this.watcher !== null,
      lastReload: this.last,
      templates: [...this.byFolder.values()].map((l) => ({
        name: l.template.name,
        folder: folderOf(l.template),
        loadedAt: l.at,
        kept: this.last.kept.some((k) => k.name === l.template.name),
      })),
      problems: this.last.problems,
      pinnedRuns: this.pins.size,
    };
  }

  /** Reloads on changes in the folder (debounced). Where fs.watch cannot watch, SIGHUP and the admin call still reload. */
  watch(): void {
    const debounceMs = this.o.debounceMs ?? 300;
    try {
      this.watcher = watch(this.o.dir, { recursive: true }, () => {
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
          this.debounce = null;
          this.reload('watch');
        }, debounceMs);
      });
      this.watcher.on('error', (err) => {
        this.o.log.warn({ dir: this.o.dir, err: err.message }, 'templates folder is no longer watched (reload with SIGHUP or the admin call)');
        this.stopWatching();
      });
    } catch (err) {
      this.o.log.warn({ dir: this.o.dir, err: (err as Error).message }, 'templates folder cannot be watched (reload with SIGHUP or the admin call)');
    }
  }

  close(): void {
    this.stopWatching();
  }

  private stopWatching(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    this.watcher?.close();
    this.watcher = null;
  }

  /** Active runs of templates about to change keep the version they started with; pins of runs that ended go. */
  private pinActive(changing: Set<string>): void {
    if (changing.size === 0 && this.pins.size === 0) return; // (the first load: no run yet)
    const active = this.o.activeRuns();
    const live = new Set(active.map((r) => pinKey(r.id, r.serial)));
    for (const k of [...this.pins.keys()]) if (!live.has(k)) this.pins.delete(k);
    for (const r of active) {
      const k = pinKey(r.id, r.serial);
      const t = this.current.get(r.template);
      if (changing.has(r.template) && !this.pins.has(k) && t) this.pins.set(k, t);
    }
  }

  private report(r: TemplatesReload): void {
    for (const p of r.problems) this.o.log.warn({ file: p.file, field: p.field, template: p.template }, `template problem: ${formatProblem(p)}`);
    this.o.log.info(
      { trigger: r.trigger, templates: [...this.current.keys()], loaded: r.loaded, changed: r.changed, removed: r.removed, kept: r.kept.map((k) => k.name), problems: r.problems.length },
      'templates loaded',
    );
  }
}
