/**
 * Graceful stop of an HTTP server: stop accepting, end keep-alive connections that are idle
 * at once and the others as soon as their answer is written, and cut whatever is left after
 * a grace period. (Node's closeIdleConnections() leaves keep-alive sockets open until the
 * client drops them.)
 */
import type http from 'node:http';
import type { Socket } from 'node:net';

export function trackConnections(server: http.Server): (graceMs: number) => Promise<void> {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const n = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, n);
      if (closing && n === 0) socket.destroy();
    });
  });
  return (graceMs) =>
    new Promise<void>((resolve) => {
      closing = true;
      const force = setTimeout(() => {
        for (const s of inFlight.keys()) s.destroy();
      }, graceMs);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      for (const [s, n] of inFlight) if (n === 0) s.destroy();
    });
}
