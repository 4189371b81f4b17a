// ApiClient over HTTPS, authenticated with a client certificate (or a bearer token): what a
// node agent in another process uses to reach the API server.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import type { ApiClient, ClientDeleteOptions, ClientWatch, ClientWatchEvent, ResourceRef, Selectors } from './client.js';

export interface HttpClientOptions {
  server: string; // https://host:port
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
  identity: string;
}

function basePath(r: ResourceRef, namespace: string | undefined): string {
  const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return namespace ? `${root}/namespaces/${encodeURIComponent(namespace)}/${r.resource}` : `${root}/${r.resource}`;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export class HttpClient implements ApiClient {
  readonly identity: string;
  private agent: https.Agent;
  private url: URL;

  constructor(private opts: HttpClientOptions) {
    this.identity = opts.identity;
    this.url = new URL(opts.server);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: opts.ca, cert: opts.cert, key: opts.key });
  }

  close(): void {
    this.agent.destroy();
  }

  private open(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      if (payload) {
        headers['content-type'] = contentType;
        headers['content-length'] = String(payload.length);
      }
      const req = https.request({ method, hostname: this.url.hostname, port: this.url.port, path, headers, agent: this.agent }, resolve);
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async call(method: string, path: string, body?: unknown, contentType?: string): Promise<KObject> {
    const res = await this.open(method, path, body, contentType);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new StatusError(res.statusCode ?? 500, 'InternalError', `unexpected response from the API server: ${text.slice(0, 200)}`);
    }
    if ((res.statusCode ?? 500) >= 300) {
      const s = parsed as { reason?: string; message?: string; details?: object };
      throw new StatusError(res.statusCode ?? 500, s.reason ?? 'Unknown', s.message ?? text, s.details);
    }
    return parsed as KObject;
  }

  get(r: ResourceRef, namespace: string | undefined, name: string) {
    return this.call('GET', `${basePath(r, namespace)}/${encodeURIComponent(name)}`);
  }

  async list(r: ResourceRef, namespace?: string, opts: Selectors & { limit?: number } = {}) {
    const l = (await this.call('GET', basePath(r, namespace) + query({ ...opts }))) as unknown as { items: KObject[]; metadata: { resourceVersion: string } };
    return { items: l.items ?? [], resourceVersion: l.metadata?.resourceVersion ?? '0' };
  }

  async watch(
    r: ResourceRef,
    namespace: string | undefined,
    opts: Selectors & { resourceVersion?: string },
    onEvent: (ev: ClientWatchEvent) => void,
    onClose: (err?: Error) => void,
  ): Promise<ClientWatch> {
    const res = await this.open('GET', basePath(r, namespace) + query({ ...opts, watch: 'true', allowWatchBookmarks: 'true' }));
    if ((res.statusCode ?? 500) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const s = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { reason?: string; message?: string };
      throw new StatusError(res.statusCode ?? 500, s.reason ?? 'Unknown', s.message ?? 'watch failed');
    }
    let stopped = false;
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line || stopped) continue;
        let ev: { type: string; object: KObject & { code?: number; message?: string; reason?: string } };
        try {
          ev = JSON.parse(line);
        } catch (e) {
          stopped = true;
          res.destroy();
          onClose(e as Error);
          return;
        }
        if (ev.type === 'ERROR') {
          stopped = true;
          res.destroy();
          onClose(new StatusError(ev.object.code ?? 500, ev.object.reason ?? 'Unknown', ev.object.message ?? 'watch error'));
          return;
        }
        onEvent(ev as ClientWatchEvent);
      }
    });
    const closed = (err?: Error) => {
      if (stopped) return;
      stopped = true;
      onClose(err);
    };
    res.on('end', () => closed());
    res.on('error', (e) => closed(e));
    res.on('close', () => closed());
    return {
      stop: () => {
        stopped = true;
        res.destroy();
      },
    };
  }

  create(r: ResourceRef, namespace: string | undefined, obj: KObject) {
    return this.call('POST', basePath(r, namespace), obj);
  }

  update(r: ResourceRef, namespace: string | undefined, obj: KObject, subresource?: 'status') {
    return this.call('PUT', `${basePath(r, namespace)}/${encodeURIComponent(obj.metadata.name!)}${subresource ? `/${subresource}` : ''}`, obj);
  }

  patch(r: ResourceRef, namespace: string | undefined, name: string, contentType: string, body: unknown, subresource?: 'status') {
    return this.call('PATCH', `${basePath(r, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`, body, contentType);
  }

  async delete(r: ResourceRef, namespace: string | undefined, name: string, opts: ClientDeleteOptions = {}) {
    await this.call('DELETE', `${basePath(r, namespace)}/${encodeURIComponent(name)}`, opts);
  }

  createSubresource(r: ResourceRef, namespace: string | undefined, name: string, subresource: string, body: KObject) {
    return this.call('POST', `${basePath(r, namespace)}/${encodeURIComponent(name)}/${subresource}`, body);
  }
}
