// The HTTP/2 data path (TLS connections that negotiated "h2" by ALPN): each stream is proxied to
// a backend over pooled HTTP/1.1 keep-alive connections (node:http Agent), bodies streamed both
// ways, the same routing, X-Forwarded-* headers and errors as the HTTP/1.1 path. WebSocket over
// HTTP/2 (RFC 8441 extended CONNECT) is not offered; browsers then use HTTP/1.1 for WebSockets.
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { localResponse, resolveDotSegments, type ListenerInfo, type RequestRouter } from './http1.js';
import { normalizeHost } from './routing.js';

const HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'upgrade', 'transfer-encoding', 'host',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'http2-settings',
]);
const HOP_RES = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class H2Engine {
  private server: http2.Http2Server;
  private agent = new http.Agent({ keepAlive: true, maxFreeSockets: 320, keepAliveMsecs: 1000 });
  private sessions = new Set<http2.ServerHttp2Session>();

  constructor(
    private router: RequestRouter,
    private log?: (msg: string) => void,
  ) {
    this.server = http2.createServer({ settings: { enableConnectProtocol: false } });
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => {});
    });
  }

  /** A TLS socket that negotiated h2. */
  handle(sock: Duplex, info: ListenerInfo): void {
    const onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.onStream(stream, headers, sock, info);
    this.server.once('session', (s) => s.on('stream', onStream));
    this.server.emit('connection', sock);
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, sock: Duplex, info: ListenerInfo): void {
    stream.on('error', () => {});
    const method = String(headers[':method'] ?? 'GET');
    const target = String(headers[':path'] ?? '/');
    const authority = String(headers[':authority'] ?? headers.host ?? '');
    const q = target.indexOf('?');
    const path = resolveDotSegments(q >= 0 ? target.slice(0, q) : target);
    const d = this.router.decide(normalizeHost(authority), path.startsWith('/') ? path : '/');
    if ('status' in d) return this.local(stream, d.status, d.message);
    const ep = d.upstream.pick();
    if (!ep) return this.local(stream, 503, d.upstream.error ?? 'no endpoints');
    const remote = ((sock as { remoteAddress?: string }).remoteAddress ?? '').replace(/^::ffff:/, '');
    const out: http.OutgoingHttpHeaders = {};
    let xff = '';
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(':') || v === undefined) continue;
      if (k === 'x-forwarded-for') xff = Array.isArray(v) ? v.join(', ') : String(v);
      if (HOP.has(k)) continue;
      out[k] = v;
    }
    out.host = authority;
    out['x-real-ip'] = remote;
    out['x-forwarded-for'] = xff ? `${xff}, ${remote}` : remote;
    out['x-forwarded-host'] = authority;
    out['x-forwarded-port'] = String(info.port);
    out['x-forwarded-proto'] = info.proto;
    const req = http.request({ host: ep.host, port: ep.port, method, path: target, headers: out, agent: this.agent });
    let responded = false;
    req.on('response', (res) => {
      responded = true;
      const rh: http2.OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 };
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_RES.has(k)) rh[k] = v;
      if (stream.destroyed) return res.destroy();
      try {
        stream.respond(rh);
      } catch {
        return res.destroy();
      }
      res.pipe(stream);
      res.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
      res.on('aborted', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    });
    req.on('error', (err) => {
      if (!responded) {
        this.log?.(`ingress: backend ${ep.key} (${d.upstream.name}) failed: ${err.message}`);
        this.local(stream, 502, `backend ${d.upstream.name} failed: ${err.message}`);
      } else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('close', () => {
      if (!req.writableFinished || !responded) req.destroy();
    });
    stream.pipe(req);
  }

  private local(stream: http2.ServerHttp2Stream, status: number, message: string): void {
    if (stream.destroyed || stream.headersSent) return;
    const raw = localResponse(status, message, false);
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    stream.end(body);
  }

  destroy(): void {
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    this.agent.destroy();
  }
}
