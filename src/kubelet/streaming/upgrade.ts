// HTTP upgrade plumbing shared by exec/attach and port-forward: which protocol a request asks
// for, the 101 for SPDY, and refusing an upgrade with a Kubernetes Status body.
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { StatusError } from '../../machinery/errors.js';

export function isWebSocketRequest(req: IncomingMessage): boolean {
  const up = String(req.headers.upgrade ?? '').toLowerCase();
  const conn = String(req.headers.connection ?? '').toLowerCase();
  return up === 'websocket' && /(^|[\s,])upgrade($|[\s,])/.test(conn);
}

export function isSpdyRequest(req: IncomingMessage): boolean {
  const up = String(req.headers.upgrade ?? '').toLowerCase();
  return up.split(',').some((s) => s.trim() === 'spdy/3.1');
}

function headerList(req: IncomingMessage, name: string): string[] {
  const distinct = req.headersDistinct?.[name];
  const raw = distinct ?? (req.headers[name] === undefined ? [] : ([] as string[]).concat(req.headers[name] as string | string[]));
  return raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}

/** Subprotocols a WebSocket client offered, in its order. */
export function offeredWebSocketProtocols(req: IncomingMessage): string[] {
  return headerList(req, 'sec-websocket-protocol');
}

/** `X-Stream-Protocol-Version` values a SPDY client offered (one header line per protocol, or comma lists). */
export function offeredStreamProtocols(req: IncomingMessage): string[] {
  return headerList(req, 'x-stream-protocol-version');
}

/** The first client-offered protocol the server supports (the client's preference wins, as upstream). */
export function negotiate(offered: string[], supported: readonly string[]): string | undefined {
  return offered.find((p) => supported.includes(p));
}

/** Answer an upgrade request with a plain HTTP error carrying a Kubernetes Status, then close. */
export function rejectUpgrade(socket: Duplex, err: StatusError, extraHeaders: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(err.toStatus());
  const reason = STATUS_TEXT[err.code] ?? 'Error';
  const lines = [
    `HTTP/1.1 ${err.code} ${reason}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`),
    '',
    body,
  ];
  socket.on('error', () => {});
  socket.end(lines.join('\r\n'));
  // Do not wait forever for a client that keeps the socket open.
  setTimeout(() => socket.destroy(), 5000).unref();
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' };

/** Write the SPDY 101 reply on the raw socket. */
export function acceptSpdy(socket: Duplex, protocol: string): void {
  socket.write(
    ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'),
  );
}

type WsLibrary = typeof import('ws');
let wsLibrary: WsLibrary | undefined;

/**
 * Complete a WebSocket handshake selecting `protocol` ('' = the client offered none). The
 * subprotocol is answered by us rather than by `ws`, whose token parser rejects names with a '/'
 * (kubectl's `SPDY/3.1+portforward.k8s.io`).
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, onOpen: (ws: WebSocket) => void): void {
  // `ws` loads with the first WebSocket stream, not with the server (outside the bundles).
  wsLibrary ??= createRequire(import.meta.url)('ws') as WsLibrary;
  const wss = new wsLibrary.WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  delete req.headers['sec-websocket-protocol'];
  if (protocol !== '') wss.on('headers', (headers) => headers.push(`Sec-WebSocket-Protocol: ${protocol}`));
  wss.handleUpgrade(req, socket, head, (ws) => {
    wss.close();
    onOpen(ws);
  });
}

export function notUpgradeError(what: string): StatusError {
  return new StatusError(400, 'BadRequest', `unable to upgrade connection: ${what}: expected a WebSocket or SPDY/3.1 upgrade request`);
}
