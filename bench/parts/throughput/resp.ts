/**
 * A minimal Redis client (RESP2 over one TCP socket) shaped like Bun's built-in `RedisClient`,
 * so that BullMQ's own Bun adapter (`createBunRedisClient`) drives it: BullMQ 6 needs a Redis
 * driver, and neither `ioredis` nor `redis` is installed here. Only what that adapter uses:
 * `connect`, `connected`, `send(command, args)`, `close`, `duplicate`, and the `onconnect` /
 * `onclose` / `onerror` callbacks. Replies: simple and bulk strings as strings, integers as
 * numbers, nil as null, arrays as arrays, error replies as Error (rejected at the top level,
 * kept as values inside an array, as EXEC's results). Used by the bench's BullMQ peer only.
 */
import net from 'node:net';

type Reply = string | number | null | Error | Reply[];

/** Parses RESP2 replies from a growing buffer; returns [reply, next offset] or undefined when incomplete. */
function parse(buf: Buffer, at: number): [Reply, number] | undefined {
  if (at >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', at);
  if (eol === -1) return undefined;
  const type = buf[at];
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new Error(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return undefined;
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const out: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos);
        if (!r) return undefined;
        out.push(r[0]);
        pos = r[1];
      }
      return [out, pos];
    }
    default:
      throw new Error(`RESP: unexpected reply type ${String.fromCharCode(type ?? 0)}`);
  }
}

function encode(command: string, args: unknown[]): Buffer {
  const parts = [command, ...args.map((a) => (Buffer.isBuffer(a) ? a : String(a)))];
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
  for (const p of parts) {
    const b = Buffer.isBuffer(p) ? p : Buffer.from(p);
    chunks.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(chunks);
}

export class RespClient {
  onconnect: () => void = () => undefined;
  onclose: (err?: Error) => void = () => undefined;
  onerror: (err: Error) => void = () => undefined;
  connected = false;
  private socket: net.Socket | null = null;
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  connect(): Promise<void> {
    if (this.socket) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, this.host);
      this.socket = s;
      s.setNoDelay(true);
      s.once('connect', () => {
        this.connected = true;
        resolve();
        this.onconnect();
      });
      s.on('data', (d: Buffer) => this.onData(d));
      s.on('error', (err) => {
        if (!this.connected) reject(err);
        this.onerror(err);
      });
      s.on('close', () => {
        const was = this.connected;
        this.connected = false;
        const err = new Error('Connection closed');
        for (const p of this.pending.splice(0)) p.reject(err);
        if (was) this.onclose();
      });
    });
  }

  private onData(d: Buffer): void {
    this.buffer = this.buffer.length === 0 ? d : Buffer.concat([this.buffer, d]);
    let at = 0;
    for (;;) {
      const r = parse(this.buffer, at);
      if (!r) break;
      at = r[1];
      const p = this.pending.shift();
      if (!p) continue;
      if (r[0] instanceof Error) p.reject(r[0]);
      else p.resolve(r[0]);
    }
    this.buffer = at === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(at);
  }

  send(command: string, args: unknown[]): Promise<unknown> {
    if (!this.socket || !this.connected) return Promise.reject(new Error('Connection closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket!.write(encode(command, args));
    });
  }

  close(): void {
    this.socket?.end();
    this.socket?.destroy();
  }

  duplicate(): Promise<RespClient> {
    return Promise.resolve(new RespClient(this.host, this.port));
  }
}
