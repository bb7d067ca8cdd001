/**
 * One SSH session to a cluster's login node with a user's own credentials (ssh2 wrapped):
 * the host key must be one of the configured known hosts; keyboard-interactive prompts are
 * answered with the password or the one-time code (told apart by their words); a private key
 * works for clusters that use keys. The credentials live only as long as the login call: they
 * are never stored, logged or passed on. ssh2's errors become jobvisor's here.
 */
import { readFile } from 'node:fs/promises';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { TargetLoginBody } from '../../shared/api.js';
import { JobvisorError } from '../../shared/errors.js';

export type Credentials = TargetLoginBody;

const OTP_PROMPT = /one-time|otp|\bcode\b|token|verification/i;
const PASSWORD_PROMPT = /password|passphrase/i;

/** The keys known for host:port, from known_hosts lines ("[host]:port type base64" or "host type base64"). */
export function knownKeys(lines: string[], host: string, port: number): string[] {
  const names = port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
  return lines
    .map((l) => l.trim().split(/\s+/))
    .filter(([hosts]) => (hosts ?? '').split(',').some((h) => names.includes(h)))
    .map(([, , key]) => key ?? '')
    .filter(Boolean);
}

/** The answer to one keyboard-interactive prompt. */
export function answerPrompt(prompt: string, creds: Credentials): string {
  if (OTP_PROMPT.test(prompt)) return creds.otp ?? '';
  if (PASSWORD_PROMPT.test(prompt)) return creds.password ?? '';
  return '';
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class SshSession {
  private constructor(private readonly client: Client) {}

  static async open(target: { host: string; port: number; knownHosts: string[]; timeoutMs: number }, creds: Credentials): Promise<SshSession> {
    const client = new Client();
    const keys = knownKeys(target.knownHosts, target.host, target.port);
    let hostKeyRefused = false;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: creds.username,
      readyTimeout: target.timeoutMs,
      tryKeyboard: creds.password !== undefined,
      authHandler: creds.privateKey ? ['publickey'] : ['keyboard-interactive'],
      ...(creds.privateKey ? { privateKey: creds.privateKey, ...(creds.passphrase ? { passphrase: creds.passphrase } : {}) } : {}),
      hostVerifier: (key: Buffer) => {
        hostKeyRefused = !keys.includes(key.toString('base64'));
        return !hostKeyRefused;
      },
    };
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map((p) => answerPrompt(p.prompt, creds))));
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string }) => {
        client.end();
        if (hostKeyRefused) reject(new JobvisorError('HOST_KEY_MISMATCH', `the host key of ${target.host}:${target.port} is not the one configured in knownHosts; refusing to log in`));
        else if (err.level === 'client-authentication') reject(new JobvisorError('CLUSTER_CREDENTIALS_REFUSED', 'invalid credentials'));
        else reject(new JobvisorError('CLUSTER_UNREACHABLE', `cannot reach ${target.host}:${target.port}: ${err.message}`));
      });
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 reads the key before it connects: a key it cannot read (malformed, a wrong or missing passphrase) throws here.
        client.end();
        const why = (err as Error).message.replace(/^Cannot parse privateKey: /, '');
        reject(new JobvisorError('INVALID_INPUT', `the private key cannot be read (${why}); is it the private half, and its passphrase right?`, { issues: [{ path: ['privateKey'], message: 'cannot be read' }] }));
      }
    });
    return new SshSession(client);
  }

  /** Runs a command; `stdin`, if given, is written and closed. */
  exec(command: string, stdin?: string): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel: ClientChannel) => {
        if (err) return reject(new JobvisorError('CLUSTER_UNREACHABLE', `the login node refused a command: ${err.message}`));
        let stdout = '';
        let stderr = '';
        channel.on('data', (d: Buffer) => (stdout += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('exit', (code: number | null) => channel.once('close', () => resolve({ code, stdout, stderr })));
        if (stdin !== undefined) channel.end(stdin);
      });
    });
  }

  /** Uploads a local file to `remotePath` (through a temporary name, so readers never see half a file). */
  async upload(localPath: string, remotePath: string): Promise<void> {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    try {
      const data = await readFile(localPath);
      await new Promise<void>((resolve, reject) => sftp.writeFile(`${remotePath}.part`, data, (err) => (err ? reject(err) : resolve())));
      await this.exec(`mv -f ${remotePath}.part ${remotePath}`);
    } finally {
      sftp.end();
    }
  }

  end(): void {
    this.client.end();
  }
}
