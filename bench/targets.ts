// The same workload against two servers: Skiff's API (ConfigMaps) and etcd's HTTP/JSON gateway
// (the /v3/kv API kube-apiserver uses over gRPC). Both over HTTPS with HTTP/2 on one session per
// client, the same certificate type, and the same JSON bodies — so the ratios compare like with like.
import { H2Session, type Tls } from './h2.js';

/** The JSON body of ConfigMap i (the shape bench/store.ts uses). */
export function configMapBody(ns: string, i: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, namespace: ns, labels: { app: 'bench', shard: String(i % 10) } },
    data: { 'config.yaml': `replicas: ${i % 5}\nmode: fast\n`, owner: 'bench' },
  });
}

/** Counts events on one watch stream by looking at raw lines: parsing every event would make the client the bottleneck. */
export class WatchCounter {
  events = 0;
  /** Lines that were not the expected event (errors, bookmarks); must stay 0. */
  unexpected = 0;
  lastEventAt = 0;
  private partial = '';
  private closeStream = () => {};
  /** Resolves on the first complete line: etcd's "created" message. */
  readonly firstLine: Promise<void>;
  private onFirstLine = () => {};

  constructor(private readonly countLine: (line: string) => number | undefined) {
    this.firstLine = new Promise((r) => (this.onFirstLine = r));
  }

  attach(close: () => void): void {
    this.closeStream = close;
  }

  onData = (chunk: Buffer): void => {
    const text = this.partial + chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const n = this.countLine(text.slice(start, nl));
      if (n === undefined) this.unexpected++;
      else if (n > 0) {
        this.events += n;
        this.lastEventAt = performance.now();
      }
      start = nl + 1;
      this.onFirstLine();
    }
    this.partial = text.slice(start);
  };

  close(): void {
    this.closeStream();
  }
}

export interface Target {
  readonly label: string;
  readonly pid: number;
  /** Prepare an empty collection named `ns` (a namespace; for etcd just a key prefix) and `count` bodies for it. */
  prepare(ns: string, count: number): Promise<void>;
  create(ns: string, i: number): Promise<boolean>;
  get(ns: string, i: number): Promise<boolean>;
  /** List the whole collection, paged when `limit` is given; returns the number of items. */
  list(ns: string, limit?: number): Promise<number>;
  /** Open a watch on the collection on its own connection, from the current revision. */
  watch(ns: string): Promise<WatchCounter>;
  close(): void;
}

const MAX_PAGES = 1000;

// Controllers add their own objects to every namespace (kube-root-ca.crt): only cm-* are counted.
const isBenchObject = (name: string) => name.startsWith('cm-');

/** One watch line = one event: ADDED of a cm-* counts, other objects are ignored, anything else is unexpected. */
function countSkiffEvent(line: string): number | undefined {
  if (line.startsWith('{"type":"ERROR"')) return undefined;
  if (!line.includes('"name":"cm-')) return 0;
  return line.startsWith('{"type":"ADDED"') ? 1 : undefined;
}

export class SkiffTarget implements Target {
  readonly label = 'skiff';
  private bodies = new Map<string, string[]>();
  private sessions: H2Session[] = [];

  private constructor(private readonly client: H2Session, private readonly origin: string, private readonly tls: Tls, readonly pid: number) {}

  static async connect(origin: string, tls: Tls, pid: number): Promise<SkiffTarget> {
    return new SkiffTarget(await H2Session.connect(origin, tls), origin, tls, pid);
  }

  async prepare(ns: string, count: number): Promise<void> {
    const r = await this.client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }));
    if (r.status !== 201) throw new Error(`creating namespace ${ns}: ${r.status} ${r.body}`);
    this.bodies.set(ns, Array.from({ length: count }, (_, i) => configMapBody(ns, i)));
  }

  async create(ns: string, i: number): Promise<boolean> {
    return (await this.client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, this.bodies.get(ns)![i])).status === 201;
  }

  async get(ns: string, i: number): Promise<boolean> {
    return (await this.client.request('GET', `/api/v1/namespaces/${ns}/configmaps/cm-${i}`)).status === 200;
  }

  async list(ns: string, limit?: number): Promise<number> {
    let items = 0;
    let token = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = limit ? `?limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ''}` : '';
      const r = await this.client.request('GET', `/api/v1/namespaces/${ns}/configmaps${q}`);
      if (r.status !== 200) throw new Error(`list ${ns}: ${r.status} ${r.body.slice(0, 200)}`);
      const body = JSON.parse(r.body) as { items: { metadata: { name: string } }[]; metadata?: { continue?: string } };
      items += body.items.filter((o) => isBenchObject(o.metadata.name)).length;
      token = body.metadata?.continue ?? '';
      if (!token) return items;
    }
    throw new Error(`list ${ns}: more than ${MAX_PAGES} pages`);
  }

  async watch(ns: string): Promise<WatchCounter> {
    const r = await this.client.request('GET', `/api/v1/namespaces/${ns}/configmaps?limit=1`);
    const rv = JSON.parse(r.body).metadata.resourceVersion as string;
    const session = await H2Session.connect(this.origin, this.tls);
    this.sessions.push(session);
    const counter = new WatchCounter(countSkiffEvent);
    const s = await session.stream('GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv}`, undefined, counter.onData);
    if (s.status !== 200) throw new Error(`watch ${ns}: status ${s.status}`);
    counter.attach(s.close);
    return counter;
  }

  close(): void {
    for (const s of [this.client, ...this.sessions]) s.close();
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The key range [key, end) of everything under `prefix`, as etcd's range_end wants it. */
function prefixRange(prefix: string): { key: string; range_end: string } {
  const end = Buffer.from(prefix);
  end[end.length - 1]++;
  return { key: b64(prefix), range_end: end.toString('base64') };
}

export class EtcdTarget implements Target {
  private requests = new Map<string, string[]>();
  private sessions: H2Session[] = [];

  private constructor(readonly label: string, private readonly client: H2Session, private readonly origin: string, private readonly tls: Tls, readonly pid: number) {}

  static async connect(label: string, origin: string, tls: Tls, pid: number): Promise<EtcdTarget> {
    return new EtcdTarget(label, await H2Session.connect(origin, tls), origin, tls, pid);
  }

  private prefix(ns: string): string {
    return `/registry/configmaps/${ns}/`;
  }

  async prepare(ns: string, count: number): Promise<void> {
    // The put requests, encoded up front as the Skiff bodies are: only the server's work is timed.
    const put = (i: number) => JSON.stringify({ key: b64(`${this.prefix(ns)}cm-${i}`), value: b64(configMapBody(ns, i)) });
    this.requests.set(ns, Array.from({ length: count }, (_, i) => put(i)));
  }

  async create(ns: string, i: number): Promise<boolean> {
    return (await this.client.request('POST', '/v3/kv/put', this.requests.get(ns)![i])).status === 200;
  }

  async get(ns: string, i: number): Promise<boolean> {
    const r = await this.client.request('POST', '/v3/kv/range', JSON.stringify({ key: b64(`${this.prefix(ns)}cm-${i}`) }));
    return r.status === 200 && r.body.includes('"kvs"');
  }

  async list(ns: string, limit?: number): Promise<number> {
    const range = prefixRange(this.prefix(ns));
    let items = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.client.request('POST', '/v3/kv/range', JSON.stringify({ ...range, ...(limit ? { limit } : {}) }));
      if (r.status !== 200) throw new Error(`range ${ns}: ${r.status} ${r.body.slice(0, 200)}`);
      const body = JSON.parse(r.body);
      const kvs: { key: string }[] = body.kvs ?? [];
      items += kvs.length;
      if (!body.more || kvs.length === 0) return items;
      // Next page starts just after the last key, as kube-apiserver pages etcd.
      range.key = Buffer.concat([Buffer.from(kvs[kvs.length - 1].key, 'base64'), Buffer.from([0])]).toString('base64');
    }
    throw new Error(`range ${ns}: more than ${MAX_PAGES} pages`);
  }

  async watch(ns: string): Promise<WatchCounter> {
    const session = await H2Session.connect(this.origin, this.tls);
    this.sessions.push(session);
    // One message per line; it may batch several events, each starting with {"kv":.
    const counter = new WatchCounter((line) => {
      if (line.includes('"created":true')) return 0;
      const n = line.split('{"kv":').length - 1;
      return n > 0 ? n : undefined;
    });
    const s = await session.stream('POST', '/v3/watch', JSON.stringify({ create_request: prefixRange(this.prefix(ns)) }), counter.onData);
    if (s.status !== 200) throw new Error(`etcd watch: status ${s.status}`);
    counter.attach(s.close);
    // The watch is registered once etcd says "created".
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('etcd watch: no "created" within 10 s')), 10_000).unref());
    await Promise.race([counter.firstLine, timeout]);
    return counter;
  }

  close(): void {
    for (const s of [this.client, ...this.sessions]) s.close();
  }
}
