// The HTTPS listener: HTTP/2 and HTTP/1.1 on one port (ALPN), client certificates requested
// (not required: bearer tokens and the health endpoints work without one).
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiHandler } from './handler.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** CA that client certificates must chain to. */
  ca: string;
}

export interface Listening {
  port: number;
  server: http2.Http2SecureServer;
  close(): Promise<void>;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export async function listen(handler: ApiHandler, tls: TlsMaterial, host: string, port: number, upgrade?: UpgradeHandler): Promise<Listening> {
  const server = http2.createSecureServer(
    { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false, allowHTTP1: true },
    handler.handle,
  );
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // exec/attach/port-forward arrive as HTTP/1.1 upgrades (kubectl never upgrades over HTTP/2).
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (upgrade) upgrade(req, socket, head);
    else socket.destroy();
  });
  // A client that never finishes its TLS handshake must not pin a socket forever.
  server.on('tlsClientError', () => {});
  server.on('sessionError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    port: actual,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
