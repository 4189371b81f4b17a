// A minimal HTTP/2 client over TLS (Node's http2 module): one session = one TCP+TLS connection,
// many concurrent streams on it — the way client-go (and so kubectl) talks to an API server.
import http2 from 'node:http2';

export interface Tls {
  ca: string;
  cert?: string;
  key?: string;
}

export interface Response {
  status: number;
  body: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

export class H2Session {
  private constructor(private readonly session: http2.ClientHttp2Session) {}

  static connect(origin: string, tls: Tls, timeoutMs = 10_000): Promise<H2Session> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(origin, { ca: tls.ca, cert: tls.cert, key: tls.key });
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`no HTTP/2 connection to ${origin} within ${timeoutMs} ms`));
      }, timeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        session.off('error', reject);
        session.on('error', () => {}); // later errors surface on the streams
        resolve(new H2Session(session));
      });
      session.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** One request; resolves with the whole body. */
  request(method: string, path: string, body?: string): Promise<Response> {
    return new Promise((resolve, reject) => {
      const stream = this.open(method, path, body);
      stream.setTimeout(REQUEST_TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
      stream.on('close', () => {
        if (!stream.readableEnded) reject(new Error(`${method} ${path}: stream closed (code ${stream.rstCode})`));
      });
      stream.on('error', reject);
    });
  }

  /**
   * A long-lived stream (a watch): `onData` sees every chunk. Resolves once the response headers
   * arrive, i.e. once the server has registered the watch.
   */
  stream(method: string, path: string, body: string | undefined, onData: (chunk: Buffer) => void): Promise<{ status: number; close(): void }> {
    return new Promise((resolve, reject) => {
      const stream = this.open(method, path, body);
      const close = () => stream.close(http2.constants.NGHTTP2_CANCEL);
      const timer = setTimeout(() => {
        close();
        reject(new Error(`${method} ${path}: no response within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      stream.on('data', onData);
      stream.on('error', () => {}); // a watch closed by either side is not an error here
      stream.once('response', (h) => {
        clearTimeout(timer);
        resolve({ status: Number(h[':status']), close });
      });
      stream.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`${method} ${path}: closed before any response`));
      });
    });
  }

  close(): void {
    this.session.close();
    // A session with a stream the peer never ends would keep the process alive.
    setTimeout(() => this.session.destroy(), 1000).unref();
  }

  private open(method: string, path: string, body?: string): http2.ClientHttp2Stream {
    const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const stream = this.session.request(headers, { endStream: body === undefined });
    if (body !== undefined) stream.end(body);
    return stream;
  }
}
