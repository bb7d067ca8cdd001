/**
 * Signatures of what jobvisor POSTs (admin webhook, completion callbacks):
 * `X-Jobvisor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so a receiver
 * checks both that the body is ours and that it is recent.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-jobvisor-signature';

export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Whether `header` signs `body` with `secret` (and, if given, is at most `toleranceSeconds` old at `nowSeconds`). */
export function verifySignature(secret: string, body: string, header: string, nowSeconds?: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== 'string') return false;
  if (nowSeconds !== undefined && Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(secret, body, t).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** POSTs signed JSON; resolves with the HTTP status, rejects when the receiver cannot be reached. */
export async function postSigned(url: string, secret: string, body: string, timeoutMs = 10_000, now = Date.now): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature(secret, body, Math.floor(now() / 1000)), 'user-agent': 'jobvisor' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
  });
  await res.body?.cancel();
  return res.status;
}
