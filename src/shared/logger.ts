/**
 * Structured logs (pino): a fixed message plus fields such as
 * `{jobId, serial, opId, agentId, driver}`. Secrets are redacted wherever they appear.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  'otp',
  'privateKey',
  'passphrase',
  'credentials',
  '*.otp',
  '*.privateKey',
  '*.passphrase',
  '*.credentials',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.secret',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
];

export function createLogger(name: string, level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination ?? pino.destination(2));
}
