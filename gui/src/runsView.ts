/**
 * What the GUI shows of a job's runs and their files: what a new run replaces (kept runs), an
 * earlier run's files and log (`?serial=N`), and disk use (the user's, every user's for admins).
 */
import { api, fileUrl } from './api.js';
import { h, replaceChildren } from './dom.js';
import { formatBytes } from './format.js';
import { describeError } from './notify.js';
import type { JobView, RunSummary, UserUsage } from './types.js';

const hasFiles = (r: Pick<RunSummary, 'files'>) => r.files === 'kept' || r.files === 'archived';

/** How a run's files read in the runs table. */
export function filesText(r: Pick<RunSummary, 'files' | 'bytes'>): string {
  const size = r.bytes !== null && hasFiles(r) ? ` (${formatBytes(r.bytes)})` : '';
  switch (r.files) {
    case 'kept':
      return `kept${size}`;
    case 'archived':
      return `archived${size}`;
    case 'purged':
      return 'removed';
    case 'missing':
      return 'missing';
  }
}

/**
 * "Run 3 becomes an earlier run; 5 are kept, run 1's files will be removed." for a new run of
 * `job` (null for a job that has not run yet).
 */
export function replacesText(job: Pick<JobView, 'serial' | 'files' | 'history'>, keepRuns: number): string {
  const earlier = [job, ...job.history].filter(hasFiles).map((r) => r.serial);
  const removed = earlier.slice(keepRuns).sort((a, b) => a - b);
  const kept = keepRuns === 1 ? '1 earlier run keeps its files' : `${keepRuns} earlier runs keep their files`;
  const gone = removed.length === 0 ? '' : `, run${removed.length > 1 ? 's' : ''} ${removed.join(', ')}${removed.length > 1 ? "'" : "'s"} files will be removed`;
  return `Run ${job.serial} becomes an earlier run; ${kept}${gone}.`;
}

/** The files (download links) and log of an earlier run. */
export function earlierRunPanel(jobId: string, serial: number, onClose: () => void): HTMLElement {
  const files = h('div', null, h('p', { class: 'muted' }, 'Loading the files…'));
  const log = h('pre', { class: 'log small', 'data-testid': 'earlier-log' }, 'Loading the log…');
  const el = h(
    'section',
    { class: 'earlier-run', 'data-testid': 'earlier-run', 'data-serial': String(serial), 'aria-label': `Run ${serial}` },
    h('div', { class: 'card-head' }, h('h3', null, `Run ${serial}: files and log`), h('button', { type: 'button', class: 'small', onclick: onClose }, 'Close')),
    files,
    h('h4', null, 'Log'),
    log,
  );
  void api
    .files(jobId, serial)
    .then((list) =>
      replaceChildren(
        files,
        list.archived ? h('p', { class: 'muted' }, 'These files are archived: they are read from the archive.') : null,
        list.files.length === 0
          ? h('p', { class: 'muted' }, 'No files.')
          : h(
              'ul',
              { class: 'files-list' },
              list.files.map((f) => h('li', null, h('a', { href: fileUrl(jobId, f.path, serial), download: f.path.split('/').pop() ?? f.path, class: 'file-link' }, f.path), ` ${formatBytes(f.size)}`)),
            ),
      ),
    )
    .catch((err: unknown) => replaceChildren(files, h('p', { class: 'is-error' }, `Could not list the files: ${describeError(err)}`)));
  void api
    .log(jobId, 0, 1024 * 1024, serial)
    .then((chunk) => replaceChildren(log, chunk.text === '' ? '(empty)' : chunk.text))
    .catch((err: unknown) => replaceChildren(log, `Could not read the log: ${describeError(err)}`));
  return el;
}

/** One line of disk use: "12.3 MiB in 4 runs (1.2 MiB archived)". */
export function usageText(u: Pick<UserUsage, 'bytes' | 'runs' | 'archivedBytes' | 'archivedRuns'>): string {
  const archived = u.archivedRuns > 0 ? ` (${formatBytes(u.archivedBytes)} of it archived, ${u.archivedRuns} run${u.archivedRuns === 1 ? '' : 's'})` : '';
  return `${formatBytes(u.bytes)} in ${u.runs} run${u.runs === 1 ? '' : 's'}${archived}`;
}

/** The caller's disk use, for the jobs page. */
export function myUsageLine(): HTMLElement {
  const el = h('p', { class: 'muted usage', 'data-testid': 'my-usage' }, 'Disk use: …');
  void api
    .usage()
    .then((u) => replaceChildren(el, `Disk use of your runs' files: ${usageText(u)}${u.targets.length > 1 ? ` — ${u.targets.map((t) => `${t.target}: ${formatBytes(t.bytes)}`).join(', ')}` : ''}.`))
    .catch(() => replaceChildren(el, ''));
  return el;
}

/** Every user's disk use, for the admin page. */
export function usageTable(): HTMLElement {
  const box = h('div', { 'data-testid': 'usage-table' }, h('p', { class: 'muted' }, 'Loading disk use…'));
  void api
    .adminUsage()
    .then((users) =>
      replaceChildren(
        box,
        users.length === 0
          ? h('p', { class: 'muted' }, 'No run files measured yet (the retention sweep measures them).')
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                null,
                h('thead', null, h('tr', null, ['User', 'Disk use', 'Runs', 'Archived', 'Per target'].map((t) => h('th', { scope: 'col' }, t)))),
                h(
                  'tbody',
                  null,
                  users.map((u) =>
                    h(
                      'tr',
                      { 'data-user': u.user },
                      h('td', null, u.user),
                      h('td', { class: 'num' }, formatBytes(u.bytes)),
                      h('td', { class: 'num' }, String(u.runs)),
                      h('td', { class: 'num' }, `${formatBytes(u.archivedBytes)} (${u.archivedRuns})`),
                      h('td', null, u.targets.map((t) => `${t.target}: ${formatBytes(t.bytes)}`).join(', ')),
                    ),
                  ),
                ),
              ),
            ),
      ),
    )
    .catch((err: unknown) => replaceChildren(box, h('p', { class: 'is-error' }, `Could not load disk use: ${describeError(err)}`)));
  return box;
}
