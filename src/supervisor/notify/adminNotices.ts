/**
 * Tells site admins of runs that failed for a reason that is not their user's, and of stale
 * runs: by e-mail (notify.adminEmails through smtp) and/or a signed webhook (notify.webhook).
 * Batched: the first notice opens a window of notify.batchSeconds, and every notice within it
 * goes into one message. A message that cannot be sent is logged and tried again with back-off
 * (up to SEND_ATTEMPTS times); it never stops the supervisor.
 */
import type { Logger } from '../../shared/logger.js';
import { sleep, type RetryPolicy } from '../../shared/retry.js';
import type { Mailer } from './mailer.js';
import { sendRetrying } from './retrying.js';
import { postSigned } from './sign.js';

export interface AdminNotice {
  kind: 'failure' | 'stale';
  jobId: string;
  serial: number;
  user: string;
  template: string;
  target: string;
  /** The failure's reason, or what the run is over ("running for 95 s, expected 60 s"). */
  reason: string;
  /** The run's last log lines (at most LOG_TAIL_LINES). */
  logTail: string[];
  at: number;
}

export interface AdminNotifierDeps {
  mailer: Mailer | null;
  adminEmails: readonly string[];
  webhook: { url: string; secret: string } | undefined;
  batchMs: number;
  log: Logger;
  retry?: RetryPolicy;
  sendAttempts?: number;
  now?: () => number;
}


export class AdminNotifier {
  private batch: AdminNotice[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly stopping = new AbortController();
  private readonly sending = new Set<Promise<unknown>>();

  constructor(private readonly deps: AdminNotifierDeps) {}

  /** Whether anyone is told at all (admin addresses with an SMTP server, or a webhook). */
  get enabled(): boolean {
    return (this.deps.mailer !== null && this.deps.adminEmails.length > 0) || this.deps.webhook !== undefined;
  }

  report(notice: AdminNotice): void {
    if (!this.enabled || this.stopping.signal.aborted) return;
    this.batch.push(notice);
    this.timer ??= setTimeout(() => this.flush(), this.deps.batchMs);
  }

  /** Sends what the open window holds now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const notices = this.batch;
    this.batch = [];
    if (notices.length === 0) return;
    const { mailer, adminEmails, webhook } = this.deps;
    if (mailer && adminEmails.length > 0) {
      const mail = { to: [...adminEmails], subject: subjectOf(notices), text: textOf(notices) };
      this.track('e-mail', () => mailer.send(mail), notices.length);
    }
    if (webhook) {
      const body = JSON.stringify({ type: 'jobvisor.notices', sentAt: (this.deps.now ?? Date.now)(), notices });
      this.track('webhook', async () => {
        const status = await postSigned(webhook.url, webhook.secret, body);
        if (status < 200 || status > 299) throw new Error(`the webhook answered HTTP ${status}`);
      }, notices.length);
    }
  }

  private track(channel: string, send: () => Promise<void>, count: number): void {
    const o = { log: this.deps.log, what: { to: 'admins', channel, notices: count }, signal: this.stopping.signal, attempts: this.deps.sendAttempts, policy: this.deps.retry };
    const p: Promise<unknown> = sendRetrying(send, o).finally(() => this.sending.delete(p));
    this.sending.add(p);
  }

  /** Sends what is batched now, waits a little for sends under way, then stops retrying. */
  async close(waitMs = 3000): Promise<void> {
    this.flush();
    await Promise.race([Promise.allSettled([...this.sending]), sleep(waitMs)]);
    this.stopping.abort();
  }
}

function subjectOf(notices: AdminNotice[]): string {
  const failures = notices.filter((n) => n.kind === 'failure').length;
  const stale = notices.length - failures;
  const parts = [failures ? `${failures} run${failures > 1 ? 's' : ''} failed (not the user's fault)` : '', stale ? `${stale} stale run${stale > 1 ? 's' : ''}` : ''];
  return `[jobvisor] ${parts.filter(Boolean).join(', ')}`;
}

function textOf(notices: AdminNotice[]): string {
  return notices
    .map((n) =>
      [
        `${n.kind === 'failure' ? 'Run failed' : 'Run stale'}: job ${n.jobId} (run ${n.serial})`,
        `  user:     ${n.user}`,
        `  template: ${n.template}`,
        `  target:   ${n.target}`,
        `  at:       ${new Date(n.at).toISOString()}`,
        `  reason:   ${n.reason.replace(/\n/g, '\n            ')}`,
        n.logTail.length ? `  last ${n.logTail.length} log lines:\n${n.logTail.map((l) => `    | ${l}`).join('\n')}` : '  (no log lines)',
      ].join('\n'),
    )
    .join('\n\n');
}
