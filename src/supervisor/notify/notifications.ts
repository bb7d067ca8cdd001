/**
 * Everything the supervisor tells when a run ends or goes stale: admins (batched, only for
 * failures that are not the user's, and stale runs), the run's user (e-mail, if they asked),
 * and the site's completion callbacks. Fed by ComputeJob's run-end hook and the job events
 * (for each run's last log lines).
 */
import type { JobEvent, StaleFlag } from '../../shared/api.js';
import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import type { RetryPolicy } from '../../shared/retry.js';
import type { JobRow, JobStore } from '../store.js';
import { AdminNotifier, type AdminNotice } from './adminNotices.js';
import { Callbacks } from './callbacks.js';
import { createMailer, type Mailer } from './mailer.js';
import { sendRetrying } from './retrying.js';

/** How many of a run's last log lines a notice carries. */
export const LOG_TAIL_LINES = 20;

export interface NotificationDeps {
  config: Pick<Config, 'smtp' | 'notify' | 'callbacks'>;
  store: Pick<JobStore, 'deliveries'>;
  log: Logger;
  now?: () => number;
  /** For tests: the back-off of failed sends. */
  retry?: RetryPolicy;
}

export class Notifications {
  readonly admin: AdminNotifier;
  readonly callbacks: Callbacks;
  private readonly mailer: Mailer | null;
  private readonly tails = new Map<string, string[]>();
  private readonly stopping = new AbortController();
  private readonly now: () => number;

  constructor(private readonly deps: NotificationDeps) {
    const { config, log } = deps;
    this.now = deps.now ?? Date.now;
    this.mailer = config.smtp ? createMailer(config.smtp) : null;
    if (!config.smtp && config.notify.adminEmails.length > 0) log.warn({ adminEmails: config.notify.adminEmails }, 'notify.adminEmails is set but smtp is not: admins get no e-mail');
    this.admin = new AdminNotifier({ mailer: this.mailer, adminEmails: config.notify.adminEmails, webhook: config.notify.webhook, batchMs: config.notify.batchSeconds * 1000, log, retry: deps.retry, now: this.now });
    this.callbacks = new Callbacks({ store: deps.store.deliveries, config: config.callbacks, log, now: this.now });
  }

  /** Resumes the callbacks a previous supervisor left pending. */
  start(): void {
    this.callbacks.resume();
  }

  /** Keeps each run's last log lines, from the job events. */
  onEvent(e: JobEvent): void {
    if (e.type === 'log') {
      const key = `${e.jobId}/${e.serial}`;
      const tail = [...(this.tails.get(key) ?? []), ...e.lines].slice(-LOG_TAIL_LINES);
      this.tails.set(key, tail);
    } else if (e.type === 'deleted') {
      for (const key of this.tails.keys()) if (key.startsWith(`${e.jobId}/`)) this.tails.delete(key);
    }
  }

  runEnded(row: JobRow): void {
    const key = `${row.id}/${row.serial}`;
    const tail = this.tails.get(key) ?? [];
    this.tails.delete(key);
    this.callbacks.runEnded(row);
    if (row.cause === 'system') this.admin.report(this.notice(row, 'failure', row.reason ?? `the run ended as ${row.status}`, tail));
    this.mailUser(row);
  }

  /** A run over its expected time: admins are told (once per run: the stale check calls this once). */
  stale(row: JobRow, flag: StaleFlag): void {
    const over = Math.round((this.now() - flag.sinceMs) / 1000);
    const reason = `${flag.state} for ${over} s, longer than the ${flag.expectedSeconds} s its template expects`;
    this.admin.report(this.notice(row, 'stale', reason, this.tails.get(`${row.id}/${row.serial}`) ?? []));
  }

  private notice(row: JobRow, kind: AdminNotice['kind'], reason: string, logTail: string[]): AdminNotice {
    return { kind, jobId: row.id, serial: row.serial, user: row.user, template: row.template, target: row.target, reason, logTail, at: this.now() };
  }

  private mailUser(row: JobRow): void {
    const notify = row.notify;
    const mailer = this.mailer;
    if (!notify || !mailer) return;
    const tookMs = (row.endedAt ?? this.now()) - row.queuedAt;
    if (notify.when === 'long' && tookMs <= this.deps.config.notify.longRunSeconds * 1000) return;
    const mail = {
      to: [notify.email],
      subject: `[jobvisor] your run of ${row.jobKey} ended: ${row.status}`,
      text: [
        `Your run ${row.serial} of job ${row.jobKey} (${row.template}, on ${row.target}) ended: ${row.status}.`,
        row.reason ? `Reason: ${row.reason}` : '',
        `Queued ${new Date(row.queuedAt).toISOString()}, ended ${new Date(row.endedAt ?? this.now()).toISOString()} (${Math.round(tookMs / 1000)} s).`,
        `Job id: ${row.id}`,
      ]
        .filter(Boolean)
        .join('\n'),
    };
    void sendRetrying(() => mailer.send(mail), { log: this.deps.log, what: { to: 'user', user: row.user, jobId: row.id, serial: row.serial }, signal: this.stopping.signal, policy: this.deps.retry });
  }

  async close(): Promise<void> {
    this.callbacks.close();
    await this.admin.close();
    this.stopping.abort();
    this.mailer?.close();
  }
}
