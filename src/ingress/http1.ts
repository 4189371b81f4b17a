// The HTTP/1.1 data path: a reverse proxy working directly on sockets (plain TCP, or TLS sockets
// that negotiated http/1.1). It parses only request and response heads and the framing of bodies
// (Content-Length, chunked, close-delimited), forwards body bytes untouched as they arrive
// (streaming, with backpressure both ways), keeps client connections alive, pools keep-alive
// connections to backends, passes protocol upgrades (WebSocket) through as a raw tunnel, and
// writes X-Forwarded-For/-Proto/-Host/-Port and X-Real-IP. Hop-by-hop headers (Connection,
// Keep-Alive, Proxy-Connection, Proxy-Authorization, TE, Upgrade unless upgrading, and every header
// named in Connection) are removed. Bypassing node:http's request/response objects is what lets
// the ingress keep up with nginx (bench/ingress.ts).
//
// Limits (documented): HTTP/1.0 clients get one request per connection and a close-delimited
// response; routing matches the raw path with dot-segments resolved but no percent-decoding;
// request bodies are not buffered, so only body-less requests are retried on another endpoint
// when connecting fails.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Endpoint, Upstream } from './upstreams.js';

export type Decision = { upstream: Upstream } | { status: number; message: string };

export interface RequestRouter {
  /** host: normalized (lower case, no port); path: without the query. */
  decide(host: string, path: string): Decision;
}

export interface ListenerInfo {
  proto: 'http' | 'https';
  /** The port the client connected to (X-Forwarded-Port). */
  port: number;
}

export interface Http1Options {
  /** Idle keep-alive timeout for client connections (ingress-nginx: 75 s). */
  clientIdleMs?: number;
  /** No response head from a backend within this → 504 (ingress-nginx proxy-read-timeout: 60 s). */
  backendTimeoutMs?: number;
  /** Connect timeout (ingress-nginx proxy-connect-timeout: 5 s). */
  connectTimeoutMs?: number;
  /** Idle keep-alive connections kept per endpoint (ingress-nginx upstream-keepalive-connections: 320). */
  maxIdlePerEndpoint?: number;
  /** Idle pooled backend connections are closed after this (ingress-nginx: 60 s). */
  backendIdleMs?: number;
  /** Idle timeout of upgraded (WebSocket) tunnels. */
  tunnelIdleMs?: number;
  log?: (msg: string) => void;
}

const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

// ---------------------------------------------------------------------------------------------
// Chunked framing: finds where a chunked body ends, without changing a byte.

const enum C {
  Size, Ext, SizeLf, Data, DataCr, DataLf, TrailerStart, TrailerLine, FinalLf, Done,
}

export class ChunkedScanner {
  private state = C.Size;
  private size = 0;
  private digits = 0;
  error?: string;

  get done(): boolean {
    return this.state === C.Done;
  }

  /** Bytes of buf[start..] that belong to the body (all of them while it continues); -1 on a framing error. */
  scan(buf: Buffer, start: number): number {
    let i = start;
    const end = buf.length;
    while (i < end) {
      switch (this.state) {
        case C.Size: {
          const c = buf[i++];
          const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (v >= 0) {
            if (++this.digits > 12) return this.fail('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) this.state = C.Ext;
          else if (c === 13) this.state = C.SizeLf;
          else if (c === 10) this.endSizeLine();
          else return this.fail('invalid chunk size');
          if (this.error) return -1;
          break;
        }
        case C.Ext: {
          const lf = buf.indexOf(10, i);
          if (lf < 0) return end - start;
          i = lf + 1;
          this.endSizeLine();
          if (this.error) return -1;
          break;
        }
        case C.SizeLf:
          if (buf[i++] !== 10) return this.fail('invalid chunk size line');
          this.endSizeLine();
          if (this.error) return -1;
          break;
        case C.Data: {
          const n = Math.min(this.size, end - i);
          i += n;
          this.size -= n;
          if (this.size === 0) this.state = C.DataCr;
          break;
        }
        case C.DataCr: {
          const c = buf[i++];
          if (c === 13) this.state = C.DataLf;
          else if (c === 10) this.reset();
          else return this.fail('missing CRLF after chunk data');
          break;
        }
        case C.DataLf:
          if (buf[i++] !== 10) return this.fail('missing CRLF after chunk data');
          this.reset();
          break;
        case C.TrailerStart: {
          const c = buf[i++];
          if (c === 13) this.state = C.FinalLf;
          else if (c === 10) this.state = C.Done;
          else this.state = C.TrailerLine;
          break;
        }
        case C.TrailerLine: {
          const lf = buf.indexOf(10, i);
          if (lf < 0) return end - start;
          i = lf + 1;
          this.state = C.TrailerStart;
          break;
        }
        case C.FinalLf:
          if (buf[i++] !== 10) return this.fail('invalid last chunk');
          this.state = C.Done;
          break;
        case C.Done:
          return i - start;
      }
      if (this.state === C.Done) return i - start;
    }
    return i - start;
  }

  private reset(): void {
    this.state = C.Size;
    this.size = 0;
    this.digits = 0;
  }

  private endSizeLine(): void {
    if (this.digits === 0) {
      this.fail('missing chunk size');
      return;
    }
    this.state = this.size === 0 ? C.TrailerStart : C.Data;
  }

  private fail(msg: string): number {
    this.error = msg;
    return -1;
  }
}

/** Body framing of one message: a length, chunked, until close, or none. */
class BodyFramer {
  remaining: number;
  chunked?: ChunkedScanner;
  untilClose: boolean;
  constructor(kind: 'none' | 'length' | 'chunked' | 'close', length = 0) {
    this.remaining = kind === 'length' ? length : 0;
    if (kind === 'chunked') this.chunked = new ChunkedScanner();
    this.untilClose = kind === 'close';
  }
  get done(): boolean {
    if (this.chunked) return this.chunked.done;
    return !this.untilClose && this.remaining === 0;
  }
  /** How many bytes of buf[start..] belong to the body; -1 on a framing error. */
  take(buf: Buffer, start: number): number {
    if (this.untilClose) return buf.length - start;
    if (this.chunked) return this.chunked.scan(buf, start);
    const n = Math.min(this.remaining, buf.length - start);
    this.remaining -= n;
    return n;
  }
}

// ---------------------------------------------------------------------------------------------
// Heads

interface RequestHead {
  method: string;
  target: string;
  minor: number; // HTTP/1.<minor>
  host: string; // raw Host header value
  /** Headers to forward, already filtered, as "Name: value\r\n" lines. */
  forwarded: string;
  xff: string;
  body: BodyFramer;
  hasBody: boolean;
  keepAlive: boolean;
  upgrade?: string;
}

interface ResponseHead {
  status: number;
  minor: number;
  statusLine: string;
  forwarded: string;
  connectionClose: boolean;
  contentLength: number; // -1 when absent
  chunked: boolean;
  upgrade?: string;
}

function tokens(v: string): string[] {
  return v.toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
}

/** Removes "/./" and "/../" segments (for routing only; the request is forwarded unchanged). */
export function resolveDotSegments(path: string): string {
  if (!path.includes('/.')) return path;
  const out: string[] = [];
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i];
    if (p === '.') {
      if (i === parts.length - 1) out.push('');
    } else if (p === '..') {
      out.pop();
      if (i === parts.length - 1) out.push('');
    } else out.push(p);
  }
  return '/' + out.join('/');
}

const HOP_REQ = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'upgrade', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);
const HOP_RES = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade']);

class HeadError extends Error {
  constructor(readonly status: number, msg: string) {
    super(msg);
  }
}

function parseRequestHead(text: string): RequestHead {
  const lines = text.split('\r\n');
  const first = lines[0];
  const sp1 = first.indexOf(' ');
  const sp2 = first.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1) throw new HeadError(400, 'malformed request line');
  const method = first.slice(0, sp1);
  const target = first.slice(sp1 + 1, sp2);
  const version = first.slice(sp2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new HeadError(version.startsWith('HTTP/') ? 505 : 400, 'unsupported HTTP version');
  const minor = version === 'HTTP/1.1' ? 1 : 0;
  let host: string | undefined;
  let cl = -1;
  let te: string | undefined;
  let conn = '';
  let upgrade: string | undefined;
  let xff = '';
  let forwarded = '';
  const extraHop: string[] = [];
  const kept: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HeadError(400, 'malformed header line');
    const name = line.slice(0, colon);
    const lname = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    switch (lname) {
      case 'host':
        if (host !== undefined && host !== value) throw new HeadError(400, 'duplicate Host header');
        host = value;
        break;
      case 'content-length': {
        if (!/^\d{1,15}$/.test(value)) throw new HeadError(400, 'invalid Content-Length');
        const n = Number(value);
        if (cl >= 0 && cl !== n) throw new HeadError(400, 'conflicting Content-Length headers');
        cl = n;
        break;
      }
      case 'transfer-encoding':
        te = te ? `${te}, ${value}` : value;
        break;
      case 'connection':
        conn = conn ? `${conn}, ${value}` : value;
        continue;
      case 'upgrade':
        upgrade = value;
        continue;
      case 'x-forwarded-for':
        xff = xff ? `${xff}, ${value}` : value;
        continue;
    }
    if (HOP_REQ.has(lname)) continue;
    kept.push([lname, line]);
  }
  const connTokens = tokens(conn);
  for (const t of connTokens) if (t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') extraHop.push(t);
  for (const [lname, line] of kept) if (extraHop.length === 0 || !extraHop.includes(lname)) forwarded += line + '\r\n';
  let body: BodyFramer;
  if (te !== undefined) {
    if (cl >= 0) throw new HeadError(400, 'both Transfer-Encoding and Content-Length');
    const tes = tokens(te);
    if (tes[tes.length - 1] !== 'chunked') throw new HeadError(501, 'unsupported Transfer-Encoding');
    body = new BodyFramer('chunked');
  } else if (cl > 0) body = new BodyFramer('length', cl);
  else body = new BodyFramer('none');
  if (host === undefined) {
    if (minor === 1 && !/^https?:\/\//i.test(target)) throw new HeadError(400, 'missing Host header');
    host = '';
  }
  const keepAlive = minor === 1 && !connTokens.includes('close');
  const head: RequestHead = { method, target, minor, host, forwarded, xff, body, hasBody: !body.done, keepAlive };
  if (upgrade && connTokens.includes('upgrade')) head.upgrade = upgrade;
  return head;
}

function parseResponseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const statusLine = lines[0];
  if (!statusLine.startsWith('HTTP/1.')) throw new Error('malformed status line');
  const minor = statusLine.charCodeAt(7) === 49 ? 1 : 0;
  const status = Number(statusLine.slice(9, 12));
  if (!Number.isInteger(status) || status < 100) throw new Error('malformed status line');
  let conn = '';
  let cl = -1;
  let te: string | undefined;
  let upgrade: string | undefined;
  const kept: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error('malformed header line');
    const lname = line.slice(0, colon).toLowerCase();
    switch (lname) {
      case 'connection':
        conn = conn ? `${conn}, ${line.slice(colon + 1)}` : line.slice(colon + 1);
        continue;
      case 'content-length': {
        const v = line.slice(colon + 1).trim();
        if (!/^\d{1,15}$/.test(v)) throw new Error('invalid Content-Length');
        const n = Number(v);
        if (cl >= 0 && n !== cl) throw new Error('conflicting Content-Length headers');
        cl = n;
        break;
      }
      case 'transfer-encoding':
        te = te ? `${te}, ${line.slice(colon + 1)}` : line.slice(colon + 1);
        break;
      case 'upgrade':
        upgrade = line.slice(colon + 1).trim();
        continue;
    }
    if (HOP_RES.has(lname)) continue;
    kept.push([lname, line]);
  }
  const connTokens = tokens(conn);
  const extraHop = connTokens.filter((t) => t !== 'close' && t !== 'keep-alive' && t !== 'upgrade');
  let forwarded = '';
  for (const [lname, line] of kept) if (extraHop.length === 0 || !extraHop.includes(lname)) forwarded += line + '\r\n';
  const chunked = te !== undefined && tokens(te).pop() === 'chunked';
  const head: ResponseHead = {
    status, minor, statusLine, forwarded, chunked,
    connectionClose: connTokens.includes('close') || (minor === 0 && !connTokens.includes('keep-alive')),
    contentLength: te !== undefined ? -1 : cl,
  };
  if (upgrade) head.upgrade = upgrade;
  return head;
}

export function localResponse(status: number, message: string, close: boolean): string {
  const body = `${status} ${STATUS_TEXT[status] ?? ''}\n${message}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`
  );
}

// ---------------------------------------------------------------------------------------------
// Backend connections

interface BackendOwner {
  onBackendData(buf: Buffer): void;
  onBackendDrain(): void;
  onBackendClose(err?: Error): void;
}

class BackendConn {
  owner: BackendOwner | null = null;
  idle = false;
  used = 0;
  connected = false;
  constructor(
    readonly sock: net.Socket,
    readonly ep: Endpoint,
    private pool: BackendPool,
  ) {
    sock.setNoDelay(true);
    sock.on('connect', () => {
      this.connected = true;
      sock.setTimeout(pool.opts.backendTimeoutMs);
    });
    sock.on('data', (d: Buffer) => {
      if (this.owner) this.owner.onBackendData(d);
      else sock.destroy(); // an idle backend must not talk
    });
    sock.on('drain', () => this.owner?.onBackendDrain());
    sock.on('timeout', () => sock.destroy(new Error(this.connected ? 'backend timed out' : 'connect timed out')));
    sock.on('error', () => {}); // reported through 'close'
    sock.on('end', () => {
      if (!this.owner) sock.destroy();
    });
    sock.on('close', () => {
      const err = (sock as net.Socket & { errored?: Error | null }).errored ?? undefined;
      if (this.idle) this.pool.remove(this);
      const o = this.owner;
      this.owner = null;
      o?.onBackendClose(err ?? undefined);
    });
  }
}

export class BackendPool {
  private idle = new Map<string, BackendConn[]>();
  readonly opts: Required<Pick<Http1Options, 'backendTimeoutMs' | 'connectTimeoutMs' | 'maxIdlePerEndpoint' | 'backendIdleMs'>>;
  private all = new Set<BackendConn>();

  constructor(opts: Http1Options) {
    this.opts = {
      backendTimeoutMs: opts.backendTimeoutMs ?? 60_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      maxIdlePerEndpoint: opts.maxIdlePerEndpoint ?? 320,
      backendIdleMs: opts.backendIdleMs ?? 60_000,
    };
  }

  acquire(ep: Endpoint, owner: BackendOwner, fresh: boolean): BackendConn {
    if (!fresh) {
      const list = this.idle.get(ep.key);
      while (list && list.length) {
        const c = list.pop()!;
        c.idle = false;
        if (c.sock.destroyed || !c.sock.writable) continue;
        c.owner = owner;
        c.used++;
        c.sock.setTimeout(this.opts.backendTimeoutMs);
        return c;
      }
    }
    const sock = net.connect({ host: ep.host, port: ep.port });
    sock.setTimeout(this.opts.connectTimeoutMs);
    const c = new BackendConn(sock, ep, this);
    this.all.add(c);
    sock.once('close', () => this.all.delete(c));
    c.owner = owner;
    c.used = 1;
    return c;
  }

  release(c: BackendConn): void {
    c.owner = null;
    if (c.sock.destroyed) return;
    let list = this.idle.get(c.ep.key);
    if (!list) this.idle.set(c.ep.key, (list = []));
    if (list.length >= this.opts.maxIdlePerEndpoint) {
      c.sock.destroy();
      return;
    }
    c.idle = true;
    c.sock.setTimeout(this.opts.backendIdleMs);
    list.push(c);
  }

  remove(c: BackendConn): void {
    c.idle = false;
    const list = this.idle.get(c.ep.key);
    if (!list) return;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(c.ep.key);
  }

  /** Closes every backend connection (idle and busy). */
  destroy(): void {
    for (const c of this.all) c.sock.destroy();
    this.all.clear();
    this.idle.clear();
  }

  get size(): number {
    return this.all.size;
  }
}

// ---------------------------------------------------------------------------------------------
// Client connections

function clientAddress(sock: Duplex): string {
  const a = (sock as net.Socket).remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

const enum S {
  Head, // reading a request head
  Exchange, // a request is being proxied (or answered locally)
  Tunnel, // upgraded: raw bytes both ways
  Closed,
}

class ClientConn implements BackendOwner {
  private state = S.Head;
  private buf: Buffer | null = null;
  private req?: RequestHead;
  private reqHeadText = '';
  private reqDone = false; // request body fully forwarded (or discarded)
  private discard = false; // request answered locally: body bytes are dropped
  private backend?: BackendConn;
  private upstream?: Upstream;
  private triesLeft = 0;
  private resBuf: Buffer | null = null;
  private res?: ResponseHead;
  private resBody?: BodyFramer;
  private resDone = false;
  private closeAfter = false;
  private bytesToClient = 0;
  private readonly remote: string;

  constructor(
    private sock: Duplex,
    private info: ListenerInfo,
    private engine: Http1Engine,
  ) {
    this.remote = clientAddress(sock);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('drain', () => this.backend?.sock.resume());
    sock.on('error', () => {});
    sock.on('end', () => this.onClientEnd());
    sock.on('close', () => this.onClientClose());
    sock.on('timeout', () => sock.destroy());
  }

  // --- client side ---

  private onData(d: Buffer): void {
    if (this.state === S.Head) {
      this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
      this.processBuffered();
    } else if (this.state === S.Exchange) {
      if (!this.reqDone) this.feedRequestBody(d, 0);
      else {
        // pipelined next request: hold it until this response is done
        this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
        this.sock.pause();
      }
    } else if (this.state === S.Tunnel) {
      if (this.backend && !this.backend.sock.write(d)) this.sock.pause();
    }
  }

  private processBuffered(): void {
    while (this.state === S.Head && this.buf && this.buf.length) {
      const buf = this.buf;
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > MAX_HEAD) this.fatal(431, 'request head too large');
        return;
      }
      if (end > MAX_HEAD) return this.fatal(431, 'request head too large');
      const text = buf.toString('latin1', 0, end);
      this.buf = end + 4 < buf.length ? buf.subarray(end + 4) : null;
      let head: RequestHead;
      try {
        head = parseRequestHead(text);
      } catch (e) {
        const status = e instanceof HeadError ? e.status : 400;
        return this.fatal(status, (e as Error).message);
      }
      this.startExchange(head);
    }
  }

  private startExchange(head: RequestHead): void {
    this.state = S.Exchange;
    this.req = head;
    this.reqDone = !head.hasBody;
    this.res = undefined;
    this.resBody = undefined;
    this.resBuf = null;
    this.resDone = false;
    this.discard = false;
    this.bytesToClient = 0;
    this.closeAfter = !head.keepAlive;
    let target = head.target;
    let hostValue = head.host;
    if (/^https?:\/\//i.test(target)) {
      try {
        const u = new URL(target);
        hostValue = u.host;
        target = u.pathname + u.search;
      } catch {
        return this.fatal(400, 'malformed request target');
      }
    }
    const q = target.indexOf('?');
    const rawPath = q >= 0 ? target.slice(0, q) : target;
    const path = rawPath.startsWith('/') ? resolveDotSegments(rawPath) : '/';
    const host = normalizeHostValue(hostValue);
    const d = this.engine.router.decide(host, path);
    if ('status' in d) return this.answerLocally(d.status, d.message);
    if (d.upstream.error || d.upstream.endpoints.length === 0) return this.answerLocally(503, d.upstream.error ?? 'no endpoints');
    this.upstream = d.upstream;
    this.triesLeft = d.upstream.tries;
    const xff = head.xff ? `${head.xff}, ${this.remote}` : this.remote;
    let out =
      // HTTP/1.0 clients are forwarded as HTTP/1.0, so the backend never answers them chunked.
      `${head.method} ${target} HTTP/1.${head.minor}\r\n` +
      (head.host !== '' ? `Host: ${head.host}\r\n` : hostValue ? `Host: ${hostValue}\r\n` : '') +
      head.forwarded +
      `X-Real-IP: ${this.remote}\r\nX-Forwarded-For: ${xff}\r\nX-Forwarded-Host: ${hostValue}\r\n` +
      `X-Forwarded-Port: ${this.info.port}\r\nX-Forwarded-Proto: ${this.info.proto}\r\n`;
    if (head.upgrade) out += `Connection: upgrade\r\nUpgrade: ${head.upgrade}\r\n`;
    else if (head.minor === 0) out += 'Connection: close\r\n';
    this.reqHeadText = out + '\r\n';
    this.connectBackend(false);
    if (this.state !== S.Exchange) return;
    // Body bytes that arrived with the head.
    if (!this.reqDone && this.buf) {
      const b = this.buf;
      this.buf = null;
      this.feedRequestBody(b, 0);
    }
  }

  private connectBackend(fresh: boolean): void {
    const ep = this.upstream!.pick()!;
    this.triesLeft--;
    const c = this.engine.pool.acquire(ep, this, fresh);
    this.backend = c;
    c.sock.write(this.reqHeadText, 'latin1');
  }

  private feedRequestBody(d: Buffer, start: number): void {
    const body = this.req!.body;
    const n = body.take(d, start);
    if (n < 0) {
      // malformed chunked body: nothing sane can follow on either connection
      this.backend?.sock.destroy();
      this.backend = undefined;
      return this.fatal(400, 'malformed chunked request body');
    }
    if (n > 0 && !this.discard && this.backend) {
      const piece = start === 0 && n === d.length ? d : d.subarray(start, start + n);
      if (!this.backend.sock.write(piece)) this.sock.pause();
    }
    if (body.done) {
      this.reqDone = true;
      if (start + n < d.length) {
        const rest = d.subarray(start + n);
        this.buf = this.buf ? Buffer.concat([this.buf, rest]) : rest;
        this.sock.pause();
      }
      if (this.resDone) this.finishExchange();
    }
  }

  private answerLocally(status: number, message: string): void {
    this.upstream = undefined;
    this.discard = true;
    // Keep the connection when the body is small enough to skip; otherwise close after answering.
    const req = this.req!;
    if (!this.reqDone && (req.body.chunked || req.body.remaining > 1 << 20)) this.closeAfter = true;
    this.sock.write(localResponse(status, message, this.closeAfter), 'latin1');
    this.resDone = true;
    if (this.closeAfter) return this.close();
    if (this.reqDone) return this.finishExchange();
    if (this.buf) {
      const b = this.buf;
      this.buf = null;
      this.feedRequestBody(b, 0);
    }
  }

  private fatal(status: number, message: string): void {
    if (this.state === S.Closed) return;
    if (this.bytesToClient === 0 && this.state !== S.Tunnel) this.sock.write(localResponse(status, message, true), 'latin1');
    this.close();
  }

  private close(): void {
    if (this.state === S.Closed) return;
    this.state = S.Closed;
    this.buf = null;
    const b = this.backend;
    this.backend = undefined;
    if (b) {
      b.owner = null;
      b.sock.destroy();
    }
    this.sock.end();
    this.sock.resume(); // drain whatever the client still sends so 'close' follows
  }

  private finishExchange(): void {
    const b = this.backend;
    this.backend = undefined;
    if (b) {
      const reusable = this.res !== undefined && !this.res.connectionClose && this.resBody !== undefined && !this.resBody.untilClose;
      if (reusable) this.engine.pool.release(b);
      else {
        b.owner = null;
        b.sock.destroy();
      }
    }
    this.req = undefined;
    this.res = undefined;
    this.resBody = undefined;
    this.upstream = undefined;
    if (this.closeAfter) return this.close();
    this.state = S.Head;
    if (this.buf) this.processBuffered();
    if (this.state === S.Head) this.sock.resume();
  }

  private onClientEnd(): void {
    // Half-close: a request in flight still gets its response, then the connection closes.
    if (this.state === S.Exchange || this.state === S.Head) {
      this.closeAfter = true;
      if (this.state === S.Head) this.close();
    } else if (this.state === S.Tunnel) this.backend?.sock.end();
  }

  private onClientClose(): void {
    this.state = S.Closed;
    const b = this.backend;
    this.backend = undefined;
    if (b) {
      b.owner = null;
      b.sock.destroy();
    }
    this.engine.clients.delete(this);
  }

  destroy(): void {
    this.sock.destroy();
  }

  // --- backend side ---

  onBackendDrain(): void {
    this.sock.resume();
  }

  onBackendData(d: Buffer): void {
    if (this.state === S.Tunnel) {
      this.bytesToClient += d.length;
      if (!this.sock.write(d)) this.backend?.sock.pause();
      return;
    }
    if (this.state !== S.Exchange) return;
    if (!this.res) {
      this.resBuf = this.resBuf ? Buffer.concat([this.resBuf, d]) : d;
      this.parseResponse();
      return;
    }
    this.forwardResponseBody(d, 0);
  }

  private parseResponse(): void {
    while (!this.res && this.resBuf && this.state === S.Exchange) {
      const buf = this.resBuf;
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > MAX_HEAD) this.backendFailed('response head too large');
        return;
      }
      let head: ResponseHead;
      try {
        head = parseResponseHead(buf.toString('latin1', 0, end));
      } catch (e) {
        return this.backendFailed(`invalid response: ${(e as Error).message}`);
      }
      const rest = end + 4 < buf.length ? buf.subarray(end + 4) : null;
      this.resBuf = rest;
      const req = this.req!;
      if (head.status === 101 && req.upgrade) return this.startTunnel(head, rest);
      if (head.status >= 100 && head.status < 200) {
        // 100 Continue and other interim responses pass through; the final one follows.
        if (head.status !== 101) {
          this.sock.write(`${head.statusLine}\r\n${head.forwarded}\r\n`, 'latin1');
          this.bytesToClient++;
          continue;
        }
        return this.backendFailed('unexpected 101 Switching Protocols');
      }
      this.res = head;
      const noBody = req.method === 'HEAD' || head.status === 204 || head.status === 304;
      let framer: BodyFramer;
      if (noBody) framer = new BodyFramer('none');
      else if (head.chunked) framer = new BodyFramer('chunked');
      else if (head.contentLength >= 0) framer = new BodyFramer('length', head.contentLength);
      else {
        framer = new BodyFramer('close');
        this.closeAfter = true;
      }
      this.resBody = framer;
      // An early response (request body not fully sent) leaves both connections in an unknown state.
      if (!this.reqDone) this.closeAfter = true;
      const out = `${head.statusLine}\r\n${head.forwarded}${this.closeAfter ? 'Connection: close\r\n' : ''}\r\n`;
      this.bytesToClient += out.length;
      // Head and the body bytes that came with it leave in one write (one syscall, one segment).
      if (rest && !framer.done) {
        this.resBuf = null;
        const n = framer.take(rest, 0);
        if (n < 0) {
          this.sock.destroy();
          return;
        }
        const head = Buffer.from(out, 'latin1');
        const piece = n === rest.length ? rest : rest.subarray(0, n);
        this.bytesToClient += n;
        if (!this.sock.write(Buffer.concat([head, piece], head.length + n))) this.backend?.sock.pause();
        if (framer.done) this.responseComplete(n < rest.length ? rest.subarray(n) : null);
        return;
      }
      this.sock.write(out, 'latin1');
      if (framer.done) return this.responseComplete(rest);
    }
  }

  private forwardResponseBody(d: Buffer, start: number): void {
    const framer = this.resBody!;
    const n = framer.take(d, start);
    if (n < 0) {
      // The backend broke chunked framing: the client cannot be told, only disconnected.
      this.sock.destroy();
      return;
    }
    if (n > 0) {
      this.bytesToClient += n;
      const piece = start === 0 && n === d.length ? d : d.subarray(start, start + n);
      if (!this.sock.write(piece)) this.backend?.sock.pause();
    }
    if (framer.done) this.responseComplete(start + n < d.length ? d.subarray(start + n) : null);
  }

  private responseComplete(extra: Buffer | null): void {
    this.resDone = true;
    if (extra && extra.length && this.res) this.res.connectionClose = true; // backend sent more than it framed
    this.backend?.sock.resume();
    if (this.reqDone) this.finishExchange();
    else {
      this.closeAfter = true;
      this.finishExchange();
    }
  }

  private startTunnel(head: ResponseHead, rest: Buffer | null): void {
    const b = this.backend!;
    this.state = S.Tunnel;
    const req = this.req!;
    const out = `${head.statusLine}\r\n${head.forwarded}Connection: upgrade\r\nUpgrade: ${head.upgrade ?? req.upgrade}\r\n\r\n`;
    this.sock.write(out, 'latin1');
    this.bytesToClient += out.length;
    if (rest) this.sock.write(rest);
    const idle = this.engine.opts.tunnelIdleMs ?? 3600_000;
    b.sock.setTimeout(idle);
    (this.sock as net.Socket).setTimeout?.(idle);
    if (this.buf) {
      b.sock.write(this.buf);
      this.buf = null;
    }
    this.sock.resume();
  }

  onBackendClose(err?: Error): void {
    const b = this.backend;
    this.backend = undefined;
    if (this.state === S.Tunnel) {
      this.sock.end();
      return;
    }
    if (this.state !== S.Exchange) return;
    if (this.resBody && this.resBody.untilClose) {
      // close-delimited response: the close is its end
      this.resDone = true;
      this.closeAfter = true;
      return this.finishExchange();
    }
    if (!this.res && this.bytesToClient === 0 && !this.resDone) {
      // Nothing reached the client yet. A body-less request may try again: on a fresh
      // connection when a pooled one was stale, on another endpoint when connecting failed.
      const stale = b !== undefined && b.used > 1;
      const connectFailed = b !== undefined && !b.connected;
      if (!this.req!.hasBody && (stale || (connectFailed && this.triesLeft > 0))) {
        if (stale) this.triesLeft++; // a stale pooled connection does not count as a try
        return this.connectBackend(true);
      }
      const why = err?.message ?? 'connection closed before a response';
      this.engine.log?.(`ingress: backend ${b?.ep.key ?? '?'} (${this.upstream?.name ?? '?'}) failed: ${why}`);
      const status = /timed out/.test(why) && b?.connected ? 504 : 502;
      this.sock.write(localResponse(status, `backend ${this.upstream?.name ?? ''} failed: ${why}`, true), 'latin1');
      return this.close();
    }
    // Mid-response: the client cannot be told, only disconnected.
    this.sock.destroy();
  }

  private backendFailed(msg: string): void {
    const b = this.backend;
    this.backend = undefined;
    if (b) {
      b.owner = null;
      b.sock.destroy();
    }
    this.engine.log?.(`ingress: backend ${b?.ep.key ?? '?'} failed: ${msg}`);
    if (this.bytesToClient === 0) {
      this.sock.write(localResponse(502, `backend ${this.upstream?.name ?? ''} failed: ${msg}`, true), 'latin1');
      this.close();
    } else this.sock.destroy();
  }
}

function normalizeHostValue(raw: string): string {
  let h = raw.toLowerCase();
  if (h.startsWith('[')) {
    const e = h.indexOf(']');
    return e > 0 ? h.slice(1, e) : h;
  }
  const c = h.indexOf(':');
  if (c >= 0) h = h.slice(0, c);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Serves HTTP/1.x on any duplex socket handed to `handle`. */
export class Http1Engine {
  readonly pool: BackendPool;
  readonly clients = new Set<ClientConn>();
  readonly log?: (msg: string) => void;

  constructor(
    readonly router: RequestRouter,
    readonly opts: Http1Options = {},
  ) {
    this.pool = new BackendPool(opts);
    this.log = opts.log;
  }

  handle(sock: Duplex, info: ListenerInfo): void {
    const s = sock as net.Socket;
    s.setNoDelay?.(true);
    s.setTimeout?.(this.opts.clientIdleMs ?? 75_000);
    const c = new ClientConn(sock, info, this);
    this.clients.add(c);
  }

  /** Closes every client and backend connection. */
  destroy(): void {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    this.pool.destroy();
  }
}
