// The kubelet streaming server's port-forward: SPDY/3.1 (`X-Stream-Protocol-Version:
// portforward.k8s.io`), the same SPDY tunnelled in WebSocket binary messages (subprotocol
// `SPDY/3.1+portforward.k8s.io`, kubectl >= 1.31), and upstream's WebSocket channel protocol
// (`v4.channel.k8s.io` with `?ports=`, used by other clients such as @kubernetes/client-node).
//
// SPDY: per forwarded connection the client opens an error stream and a data stream with the same
// `requestid` and `port` headers. When both exist we dial the port and copy bytes both ways; a
// failure is reported as text on the error stream (kubectl prints it as
// `an error occurred forwarding L -> R: <text>`). Both streams are FIN'd when the pod side is done.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { StatusError } from '../../machinery/errors.js';
import { SpdySession, spdyOverSocket, type SpdyStream, type SpdyTransport } from './spdy.js';
import {
  acceptSpdy,
  acceptWebSocket,
  isSpdyRequest,
  isWebSocketRequest,
  negotiate,
  notUpgradeError,
  offeredStreamProtocols,
  offeredWebSocketProtocols,
  rejectUpgrade,
} from './upgrade.js';

export type PortDialer = (port: number) => Promise<Duplex>;

export const SPDY_PORTFORWARD_PROTOCOL = 'portforward.k8s.io';
export const WEBSOCKET_SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const WEBSOCKET_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'] as const;

/** A pair whose second stream never comes is dropped after this long (upstream: 30 s). */
const PAIR_TIMEOUT_MS = 30_000;

function podLabel(req: IncomingMessage): string {
  const parts = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const i = parts.indexOf('pods');
  if (i >= 0 && parts[i + 1]) return parts[i + 1]!;
  const j = parts.findIndex((p) => p.toLowerCase() === 'portforward');
  if (j >= 0 && parts[j + 2]) return parts[j + 2]!;
  return 'unknown';
}

function parsePort(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Serve a port-forward upgrade. Every forwarded connection calls `dial(port)` and copies bytes
 * both ways until the pod side and the client are done.
 */
export function servePortForwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, dial: PortDialer): void {
  socket.on('error', () => {});
  const pod = podLabel(req);
  if (isWebSocketRequest(req)) {
    const offered = offeredWebSocketProtocols(req);
    if (offered.includes(WEBSOCKET_SPDY_TUNNEL_PROTOCOL)) {
      acceptWebSocket(req, socket, head, WEBSOCKET_SPDY_TUNNEL_PROTOCOL, (ws) => serveSpdyPortForward(spdyOverWebSocket(ws), pod, dial));
      return;
    }
    const protocol = offered.length === 0 ? '' : negotiate(offered, WEBSOCKET_PORTFORWARD_PROTOCOLS);
    if (protocol === undefined) {
      return rejectUpgrade(
        socket,
        new StatusError(
          400,
          'BadRequest',
          `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${[WEBSOCKET_SPDY_TUNNEL_PROTOCOL, ...WEBSOCKET_PORTFORWARD_PROTOCOLS].join(' ')}]`,
        ),
      );
    }
    let ports: number[];
    try {
      ports = parsePortsQuery(new URL(req.url ?? '/', 'http://x').searchParams);
    } catch (e) {
      return rejectUpgrade(socket, e as StatusError);
    }
    acceptWebSocket(req, socket, head, protocol, (ws) => serveWebSocketChannelPortForward(ws, protocol.includes('base64'), ports, pod, dial));
    return;
  }
  if (isSpdyRequest(req)) {
    const offered = offeredStreamProtocols(req);
    if (!offered.includes(SPDY_PORTFORWARD_PROTOCOL)) {
      return rejectUpgrade(
        socket,
        new StatusError(403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${SPDY_PORTFORWARD_PROTOCOL}]`),
        { 'X-Accepted-Stream-Protocol-Versions': SPDY_PORTFORWARD_PROTOCOL },
      );
    }
    acceptSpdy(socket, SPDY_PORTFORWARD_PROTOCOL);
    serveSpdyPortForward(spdyOverSocket(socket, head), pod, dial);
    return;
  }
  rejectUpgrade(socket, notUpgradeError('port-forward'));
}

/** `?ports=80,443` (or repeated) of the WebSocket channel protocol. */
export function parsePortsQuery(q: URLSearchParams): number[] {
  const raw = q.getAll('ports').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (raw.length === 0) throw new StatusError(400, 'BadRequest', '"ports" query parameter is required');
  return raw.map((v) => {
    const p = parsePort(v);
    if (p === undefined) throw new StatusError(400, 'BadRequest', `invalid port "${v}"`);
    return p;
  });
}

/** SPDY frames carried in binary WebSocket messages with arbitrary boundaries. */
function spdyOverWebSocket(ws: WebSocket): SpdySession {
  const transport: SpdyTransport = {
    send: (buf) =>
      new Promise((resolve) => {
        if (ws.readyState !== ws.OPEN) return resolve();
        ws.send(buf, { binary: true }, () => resolve());
      }),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    end: () => {
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
    destroy: () => ws.terminate(),
  };
  const session = new SpdySession(transport);
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[]) => {
    session.receive(Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
  });
  ws.on('close', () => session.transportClosed());
  ws.on('error', () => session.transportClosed());
  return session;
}

interface Pair {
  requestId: string;
  error?: SpdyStream;
  data?: SpdyStream;
  timer: NodeJS.Timeout;
}

function serveSpdyPortForward(session: SpdySession, pod: string, dial: PortDialer): void {
  const pairs = new Map<string, Pair>();

  session.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });

  session.on('stream', (stream) => {
    const type = stream.headers['streamtype'];
    if (type !== 'error' && type !== 'data') {
      stream.cancel();
      return;
    }
    // Old clients without requestid pair a data stream with the error stream opened just before it.
    const requestId = stream.headers['requestid'] ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        const p = pairs.get(requestId);
        if (!p) return;
        pairs.delete(requestId);
        if (p.error) void finishWithError(p.error, p.data, `timed out waiting for the data and error streams of request ${requestId}`);
        else p.data?.cancel();
      }, PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { requestId, timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      // A second stream of the same type for one request: refuse it.
      stream.cancel();
      return;
    }
    pair[type] = stream;
    if (type === 'error') stream.resume(); // the client only FINs it
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(pair.error, pair.data);
    }
  });

  async function forward(errorStream: SpdyStream, dataStream: SpdyStream): Promise<void> {
    const portHeader = dataStream.headers['port'] ?? errorStream.headers['port'];
    const port = parsePort(portHeader);
    if (port === undefined) {
      return finishWithError(errorStream, dataStream, `invalid port header "${portHeader ?? ''}"`);
    }
    let conn: Duplex;
    try {
      conn = await dial(port);
    } catch (e) {
      return finishWithError(errorStream, dataStream, `error forwarding port ${port} to pod ${pod}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (dataStream.destroyed || session.closed) {
      conn.destroy();
      return;
    }
    copyBothWays(conn, dataStream, (err) => {
      if (err) void finishWithError(errorStream, dataStream, `error forwarding port ${port} to pod ${pod}: ${err.message}`);
      else errorStream.end();
    });
  }
}

/**
 * Copy between the pod connection and the client's data stream. The client's FIN half-closes the
 * pod side; the pod side's end FINs the data stream. `done` runs once, when the pod connection is
 * closed (with the error, if any).
 */
function copyBothWays(conn: Duplex, data: Duplex, done: (err?: Error) => void): void {
  let failure: Error | undefined;
  let finished = false;
  conn.on('error', (e: Error) => {
    failure ??= e;
  });
  data.pipe(conn);
  conn.pipe(data);
  data.on('close', () => conn.destroy());
  conn.on('close', () => {
    if (finished) return;
    finished = true;
    if (!data.writableEnded && !data.destroyed) data.end();
    done(failure);
  });
}

async function finishWithError(errorStream: SpdyStream, dataStream: SpdyStream | undefined, message: string): Promise<void> {
  if (!errorStream.destroyed && !errorStream.writableEnded) errorStream.end(Buffer.from(message));
  if (dataStream && !dataStream.destroyed && !dataStream.writableEnded) dataStream.end();
}

// ---------------------------------------------------------------------------------------------
// WebSocket channel protocol: channel 2i = data of ports[i], 2i+1 = its error channel; the first
// message the server sends on each channel is the port (uint16, little-endian).

function serveWebSocketChannelPortForward(ws: WebSocket, base64: boolean, ports: number[], pod: string, dial: PortDialer): void {
  const conns: (Duplex | undefined)[] = ports.map(() => undefined);
  const pending: Buffer[][] = ports.map(() => []);
  let closed = false;

  const send = (ch: number, data: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (ws.readyState !== ws.OPEN) return resolve();
      const frame = base64 ? String.fromCharCode(48 + ch) + data.toString('base64') : Buffer.concat([Buffer.from([ch]), data]);
      ws.send(frame, { binary: !base64 }, () => resolve());
    });

  ws.on('error', () => {});
  ws.on('close', () => {
    closed = true;
    for (const c of conns) c?.destroy();
  });
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[]) => {
    let data = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (data.length === 0) return;
    let ch = data[0]!;
    let payload = data.subarray(1);
    if (base64) {
      ch -= 48;
      payload = Buffer.from(payload.toString('latin1'), 'base64');
    }
    if (ch % 2 !== 0 || ch / 2 >= ports.length || payload.length === 0) return;
    const i = ch / 2;
    const c = conns[i];
    if (c) c.write(payload);
    else pending[i]!.push(Buffer.from(payload));
  });

  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    void send(2 * i, portBytes);
    void send(2 * i + 1, portBytes);
    dial(port).then(
      (conn) => {
        if (closed) return conn.destroy();
        conns[i] = conn;
        conn.on('error', (e: Error) => void send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${pod}: ${e.message}`)));
        for (const b of pending[i]!) conn.write(b);
        pending[i] = [];
        conn.on('data', (c: Buffer) => void send(2 * i, c));
        conn.on('close', () => {
          // Without per-channel close in this protocol, the connection ends when every port is done.
          conns[i] = undefined;
          if (conns.every((x) => x === undefined) && ws.readyState === ws.OPEN) ws.close(1000);
        });
      },
      (e: unknown) => void send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${pod}: ${e instanceof Error ? e.message : String(e)}`)),
    );
  });
}
