/**
 * A second, real Docker engine for tests: dockerd on 127.0.0.1 over TCP with TLS certificates
 * made here with openssl (a CA, a server certificate, a client certificate, and a client
 * certificate from another CA that the engine must refuse). `stop()` ends it and removes
 * everything it made.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}

function sign(dir: string, ca: string, name: string, ext: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-out', `${name}-cert.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

/** A folder as jobvisor's docker settings expect: ca.pem, cert.pem, key.pem. */
function clientDir(dir: string, into: string, ca: string, client: string): string {
  const out = path.join(dir, into);
  mkdirSync(out);
  copyFileSync(path.join(dir, `${ca}.pem`), path.join(out, 'ca.pem'));
  copyFileSync(path.join(dir, `${client}-cert.pem`), path.join(out, 'cert.pem'));
  copyFileSync(path.join(dir, `${client}-key.pem`), path.join(out, 'key.pem'));
  return out;
}

export interface TlsDockerd {
  port: number;
  /** Client certificates the engine accepts. */
  tlsDir: string;
  /** Client certificates from another CA: the engine refuses them. */
  wrongTlsDir: string;
  docker(...args: string[]): string;
  stop(): Promise<void>;
}

export async function startTlsDockerd(): Promise<TlsDockerd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-dockerd-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  sign(dir, 'ca', 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign(dir, 'ca', 'client', 'extendedKeyUsage=clientAuth\n');
  sign(dir, 'other-ca', 'intruder', 'extendedKeyUsage=clientAuth\n');
  const tlsDir = clientDir(dir, 'client', 'ca', 'client');
  const wrongTlsDir = clientDir(dir, 'wrong-client', 'ca', 'intruder');
  const port = await freePort();
  for (const d of ['data', 'exec']) mkdirSync(path.join(dir, d));
  const child: ChildProcess = spawn(
    'dockerd',
    [
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'dockerd.pid'),
      '-H', `tcp://127.0.0.1:${port}`,
      '--tlsverify', '--tlscacert', path.join(dir, 'ca.pem'), '--tlscert', path.join(dir, 'server-cert.pem'), '--tlskey', path.join(dir, 'server-key.pem'),
      '--bridge=none', '--iptables=false', '--ip6tables=false',
    ],
    { stdio: 'ignore' },
  );
  const docker = (...args: string[]) =>
    execFileSync('docker', ['--tlsverify', '--tlscacert', path.join(tlsDir, 'ca.pem'), '--tlscert', path.join(tlsDir, 'cert.pem'), '--tlskey', path.join(tlsDir, 'key.pem'), '-H', `tcp://127.0.0.1:${port}`, ...args], { encoding: 'utf8' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    // dockerd leaves mounts (its network namespace, overlays) under its folders.
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir + '/'));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => {
      try {
        docker('info', '--format', '{{.ServerVersion}}');
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 30_000, what: 'the second dockerd to answer' });
    execFileSync('bash', ['-c', `docker save jobvisor-agent:latest | docker --tlsverify --tlscacert ${tlsDir}/ca.pem --tlscert ${tlsDir}/cert.pem --tlskey ${tlsDir}/key.pem -H tcp://127.0.0.1:${port} load -q`], { stdio: 'ignore' });
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, tlsDir, wrongTlsDir, docker, stop };
}
