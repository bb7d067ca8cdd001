/**
 * The agent's outbox: every update gets the next sequence number and stays here until the
 * supervisor acknowledges it, across reconnects; after a reconnect everything unacknowledged
 * is sent again, in order.
 */
import { PROTOCOL_VERSION, type AgentMessage, type Update } from '../shared/protocol.js';

export type UpdateMessage = Extract<AgentMessage, { type: 'update' }>;

export class Outbox {
  private nextSeq = 1;
  private readonly unacked: UpdateMessage[] = [];

  add(jobId: string, serial: number, update: Update): UpdateMessage {
    const msg: UpdateMessage = { v: PROTOCOL_VERSION, type: 'update', seq: this.nextSeq++, jobId, serial, update };
    this.unacked.push(msg);
    return msg;
  }

  /** Drops every update up to `seq`; returns the ones dropped. */
  ack(seq: number): UpdateMessage[] {
    let n = 0;
    while (n < this.unacked.length && (this.unacked[n] as UpdateMessage).seq <= seq) n++;
    return this.unacked.splice(0, n);
  }

  pending(): readonly UpdateMessage[] {
    return this.unacked;
  }

  get size(): number {
    return this.unacked.length;
  }
}
