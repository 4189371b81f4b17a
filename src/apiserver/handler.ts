// HTTP front of the API: authentication, routing to discovery/OpenAPI/resources, content
// negotiation, Status errors. Works for HTTP/1.1 and HTTP/2 (Node's compatibility API).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { yaml } from '../machinery/yaml.js';
import type { KindSpec } from '../api/types.js';
import { errors, StatusError, type Status } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { isPlainObject } from '../machinery/object.js';
import { jsonText, sharedJsonText } from '../machinery/json-text.js';
import { decodeObjectBody, decodePatchBody, mediaType, negotiate, readBody, type ResponseFormat } from './codec.js';
import type { FieldValidation, RequestContext, UserInfo } from './context.js';
import type { Discovery } from './discovery.js';
import { requestInfo, splitTarget, type RequestInfo } from './request-info.js';
import type { DeleteOptions, Resources } from './resources.js';
import { toTable, tableRow, columnDefinitions, type IncludeObject } from './table.js';
import type { OpenApiServer } from './openapi.js';
import type { Authenticator } from './authn.js';
import { SubresourceHandlers } from './subresources.js';
import { attributesFor, requireAllowed, type Authorizer } from '../auth/rbac.js';
import { impersonatedUser } from '../auth/impersonation.js';

export type Req = IncomingMessage | Http2ServerRequest;
export type Res = ServerResponse | Http2ServerResponse;

export interface ApiDeps {
  resources: Resources;
  discovery: Discovery;
  openapi: OpenApiServer;
  authn: Authenticator;
  version: Record<string, string>;
  /** Readiness beyond "the process answers" (e.g. store open, bootstrap objects written). */
  ready: () => boolean;
  serverAddress: string;
}

const UNAUTHENTICATED_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);
export const CLUSTER_INFO_PATH = '/api/v1/namespaces/kube-public/configmaps/cluster-info';
const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
const DEFAULT_WATCH_TIMEOUT_S = 1800;
const BOOKMARK_INTERVAL_MS = 15_000;
const MAX_PENDING_WATCH_EVENTS = 100_000;

/** A read-only resource whose objects are computed on request (metrics.k8s.io). */
export interface ComputedResource {
  list(namespace: string | undefined, labelSelector: string | undefined): Promise<KObject[]>;
  get(namespace: string | undefined, name: string): Promise<KObject>;
}

export class ApiHandler {
  readonly subresources: SubresourceHandlers;
  private computed = new Map<string, ComputedResource>();
  private authz?: Authorizer;

  /** From now on every request is authorized (RBAC); before, every authenticated user may do anything. */
  setAuthorizer(authz: Authorizer): void {
    this.authz = authz;
  }

  /** Serve a computed resource at group/version/plural (its KindSpec must be registered). */
  registerComputed(group: string, version: string, plural: string, r: ComputedResource): void {
    this.computed.set(`${group}/${version}/${plural}`, r);
  }

  constructor(private deps: ApiDeps) {
    this.subresources = new SubresourceHandlers(deps.resources);
  }

  handle = (req: Req, res: Res): void => {
    this.serve(req, res).catch((e) => this.fail(res, e));
  };

  private async serve(req: Req, res: Res): Promise<void> {
    const { pathname, query } = splitTarget(req.url ?? '/');
    const path = pathname.replace(/\/+$/, '') || '/';
    if (UNAUTHENTICATED_PATHS.has(path) && (req.method === 'GET' || req.method === 'HEAD')) return this.serveHealth(path, res);
    // kube-public/cluster-info is readable anonymously, as kubeadm's RBAC makes it: a joining node
    // checks the CA in it against the hash it was given before trusting the server.
    const anonymousOk = req.method === 'GET' && path === CLUSTER_INFO_PATH;
    let user = this.deps.authn.authenticate(req) ?? (anonymousOk ? ANONYMOUS : undefined);
    if (!user) throw errors.unauthorized();
    const info = requestInfo(req.method ?? 'GET', path, query);
    if (this.authz) {
      user = impersonatedUser(req.headers, user, this.authz);
      requireAllowed(this.authz, user, attributesFor(info));
    }

    if (path === '/api' || path === '/apis') {
      const d = this.deps.discovery.root(path === '/api' ? 'api' : 'apis', header(req, 'accept'), this.deps.serverAddress);
      return send(res, 200, d.body, d.contentType);
    }
    if (path.startsWith('/openapi/')) return this.deps.openapi.serve(path, query, req, res);
    if (/^\/healthz|^\/livez|^\/readyz/.test(path)) return this.serveHealth(path, res);

    if (!info.isResourceRequest) return this.serveGroupDiscovery(path, info, res);
    return this.serveResource(req, res, info, query, user);
  }

  private serveHealth(path: string, res: Res) {
    if (path === '/version') return send(res, 200, JSON.stringify(this.deps.version, null, 2), 'application/json');
    if (path.startsWith('/readyz') && !this.deps.ready()) return send(res, 500, '[-]startup failed\nreadyz check failed', 'text/plain; charset=utf-8');
    return send(res, 200, 'ok', 'text/plain; charset=utf-8');
  }

  private serveGroupDiscovery(path: string, info: RequestInfo, res: Res) {
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'api' && parts.length === 2) {
      const list = this.deps.discovery.resourceList(parts[1]);
      if (list) return send(res, 200, list, 'application/json');
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const list = this.deps.discovery.resourceList(`${parts[1]}/${parts[2]}`);
      if (list) return send(res, 200, list, 'application/json');
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = this.deps.discovery.group(parts[1]);
      if (g) return send(res, 200, g, 'application/json');
    }
    void info;
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private async serveResource(req: Req, res: Res, info: RequestInfo, q: URLSearchParams, user: UserInfo) {
    const spec = this.deps.resources.spec(info.group, info.version, info.resource!);
    if (info.rest.length) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const ns = spec.namespaced ? info.namespace : undefined;
    if (spec.namespaced && info.namespace === undefined && !['list', 'watch', 'create', 'deletecollection'].includes(info.verb))
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (spec.namespaced && info.namespace === undefined && (info.verb === 'create' || info.verb === 'deletecollection'))
      throw errors.methodNotAllowed();
    const ctx: RequestContext = {
      user,
      dryRun: dryRunOf(q),
      fieldManager: q.get('fieldManager') ?? undefined,
      fieldValidation: fieldValidationOf(q),
      warnings: [],
    };
    const r = this.deps.resources;

    if (info.subresource && info.subresource !== 'status' && !(info.subresource === 'finalize' && spec.finalization)) {
      if (info.subresource === 'scale' && spec.subresources?.scale)
        return this.respond(req, res, spec, await this.subresources.scale(req, spec, ns, info.name!, ctx), ctx);
      const handled = await this.subresources.handle(req, res, spec, ns, info, ctx);
      if (handled !== undefined) {
        if (handled.object) return this.respond(req, res, spec, handled.object, ctx, handled.code ?? 200);
        return;
      }
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const sub = info.subresource === 'status' || info.subresource === 'finalize' ? info.subresource : undefined;
    if (sub === 'status' && !spec.subresources?.status) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const computed = this.computed.get(`${spec.group}/${spec.version}/${spec.plural}`);
    if (computed) {
      if (info.verb === 'get') return this.respond(req, res, spec, await computed.get(ns, info.name!), ctx);
      if (info.verb !== 'list') throw errors.methodNotAllowed();
      const items = await computed.list(ns, q.get('labelSelector') ?? undefined);
      const format = negotiate(header(req, 'accept'), true);
      if (format.kind === 'table') return sendFormatted(res, 200, toTable(spec, items, {}, includeOf(q), format.version), format, ctx.warnings);
      return sendFormatted(res, 200, { kind: spec.listKind ?? `${spec.kind}List`, apiVersion: apiVersion(spec), metadata: {}, items }, format, ctx.warnings);
    }
    if (spec.virtual) {
      if (info.verb !== 'create') throw errors.methodNotAllowed();
      const body = decodeObjectBody(header(req, 'content-type'), await readBody(req as never));
      const out = await this.subresources.review(spec, ns, body, ctx);
      return this.respond(req, res, spec, out, ctx, 201);
    }

    switch (info.verb) {
      case 'get': {
        const obj = await r.get(spec, ns, info.name!);
        return this.respond(req, res, spec, obj, ctx);
      }
      case 'list': {
        const format = negotiate(header(req, 'accept'), true);
        const list = await r.list(spec, ns, {
          labelSelector: q.get('labelSelector') ?? undefined,
          fieldSelector: q.get('fieldSelector') ?? undefined,
          limit: intParam(q, 'limit'),
          continue: q.get('continue') ?? undefined,
        });
        if (format.kind === 'table')
          return sendFormatted(res, 200, toTable(spec, list.items, list, includeOf(q), format.version), format, ctx.warnings);
        const metadata: Record<string, unknown> = { resourceVersion: list.resourceVersion };
        if (list.continue) metadata.continue = list.continue;
        if (list.remainingItemCount !== undefined) metadata.remainingItemCount = list.remainingItemCount;
        const body = { kind: spec.listKind ?? `${spec.kind}List`, apiVersion: apiVersion(spec), metadata, items: list.items };
        if (format.kind === 'json') return send(res, 200, listJson(body), 'application/json', ctx.warnings);
        return sendFormatted(res, 200, body, format, ctx.warnings);
      }
      case 'watch':
        return this.watch(req, res, spec, ns, info, q);
      case 'create': {
        const body = decodeObjectBody(header(req, 'content-type'), await readBody(req as never));
        const created = await r.create(spec, ns, body, ctx);
        return this.respond(req, res, spec, created, ctx, 201);
      }
      case 'update': {
        const body = decodeObjectBody(header(req, 'content-type'), await readBody(req as never));
        const updated = await r.update(spec, ns, info.name!, body, ctx, sub);
        return this.respond(req, res, spec, updated, ctx);
      }
      case 'patch': {
        const ct = header(req, 'content-type');
        const body = decodePatchBody(ct, await readBody(req as never));
        const force = q.get('force') === 'true';
        if (mediaType(ct) === 'application/apply-patch+yaml' && !ctx.fieldManager)
          throw errors.badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
        const { object, created } = await r.patch(spec, ns, info.name!, mediaType(ct), body, { ...ctx, force }, sub);
        return this.respond(req, res, spec, object, ctx, created ? 201 : 200);
      }
      case 'delete': {
        const opts = await deleteOptionsOf(req, q);
        const { object, pending } = await r.delete(spec, ns, info.name!, opts, ctx);
        return this.respond(req, res, spec, object, ctx, pending ? 202 : 200);
      }
      case 'deletecollection': {
        const opts = await deleteOptionsOf(req, q);
        const items = await r.deleteCollection(spec, ns, { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined }, opts, ctx);
        const body = { kind: spec.listKind ?? `${spec.kind}List`, apiVersion: apiVersion(spec), metadata: {}, items };
        return sendFormatted(res, 200, body, negotiate(header(req, 'accept'), false), ctx.warnings);
      }
      default:
        throw errors.methodNotAllowed();
    }
  }

  /** Single-object responses: JSON/YAML, or a one-row Table when asked. */
  private respond(req: Req, res: Res, spec: KindSpec, obj: KObject, ctx: RequestContext, code = 200) {
    const format = negotiate(header(req, 'accept'), true);
    if (format.kind === 'table' && obj.kind === spec.kind)
      return sendFormatted(res, code, toTable(spec, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeOf(splitTarget(req.url ?? '/').query), format.version), format, ctx.warnings);
    return sendFormatted(res, code, obj, format.kind === 'table' ? { kind: 'json' } : format, ctx.warnings);
  }

  private async watch(req: Req, res: Res, spec: KindSpec, ns: string | undefined, info: RequestInfo, q: URLSearchParams) {
    const format = negotiate(header(req, 'accept'), true);
    const include = includeOf(q);
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const initialEventsEnd = q.get('sendInitialEvents') === 'true';
    const timeoutS = intParam(q, 'timeoutSeconds') ?? DEFAULT_WATCH_TIMEOUT_S * (1 + Math.random());
    let rv = q.get('resourceVersion') ?? undefined;
    if (initialEventsEnd) rv = '0';
    const fieldSelector = q.get('fieldSelector') ?? (info.name ? `metadata.name=${info.name}` : undefined);
    let first = true;
    let lastRevision = 0;
    const encode = (type: string, object: unknown) => {
      if (format.kind === 'table' && type !== 'BOOKMARK' && type !== 'ERROR') {
        const obj = object as KObject;
        object = {
          kind: 'Table',
          apiVersion: `meta.k8s.io/${format.version}`,
          metadata: { resourceVersion: obj.metadata.resourceVersion },
          columnDefinitions: first ? columnDefinitions(spec) : null,
          rows: [tableRow(spec, obj, include)],
        };
        first = false;
      }
      // One JSON text per stored object version, shared by every watcher that receives it.
      return `{"type":"${type}","object":${sharedJsonText(object)}}\n`;
    };
    const queue: string[] = [];
    let closed = false;
    let blocked = false;
    // Set once the stream is open; a watcher dropped before that just never starts.
    let stop = () => {
      closed = true;
    };
    // Back-pressure: a watcher that reads slowly makes its events wait here (bounded below),
    // not in unbounded socket buffers.
    const flush = () => {
      if (closed || blocked) return;
      while (queue.length) {
        if (!(res as ServerResponse).write(queue.shift()!)) {
          blocked = true;
          res.once('drain', () => {
            blocked = false;
            flush();
          });
          return;
        }
      }
    };
    let initialDone = false;
    const handle = await this.deps.resources.watch(
      spec,
      ns,
      { resourceVersion: rv, labelSelector: q.get('labelSelector') ?? undefined, fieldSelector },
      (ev) => {
        const r = Number(ev.object.metadata.resourceVersion);
        if (r > lastRevision) lastRevision = r;
        queue.push(encode(ev.type, ev.object));
        if (queue.length > MAX_PENDING_WATCH_EVENTS) {
          // A watcher this far behind is dropped, as upstream's watch cache drops slow watchers;
          // informers re-list and resume.
          stop();
          return;
        }
        if (initialDone) flush();
      },
      (revision) => {
        if (revision > lastRevision) lastRevision = revision;
      },
    );
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    // HTTP/1.1 holds headers back until the first body write: a watch with nothing to report yet
    // must still answer at once, as upstream does.
    (res as ServerResponse).flushHeaders();
    const bookmark = (extra?: Record<string, string>) => {
      if (!lastRevision) lastRevision = this.deps.resources.store.currentRevision();
      const metadata: Record<string, unknown> = { resourceVersion: String(lastRevision) };
      if (extra) metadata.annotations = extra;
      queue.push(JSON.stringify({ type: 'BOOKMARK', object: { kind: spec.kind, apiVersion: apiVersion(spec), metadata } }) + '\n');
      flush();
    };
    initialDone = true;
    flush();
    if (initialEventsEnd && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    const ticker = bookmarks ? setInterval(() => bookmark(), BOOKMARK_INTERVAL_MS) : undefined;
    const wasClosed = closed;
    stop = () => {
      if (closed) return;
      closed = true;
      handle.stop();
      if (ticker) clearInterval(ticker);
      clearTimeout(timer);
      res.end();
    };
    const timer = setTimeout(stop, timeoutS * 1000);
    res.on('close', stop);
    req.on('close', stop);
    if (wasClosed) {
      // Dropped while the initial events were still being queued.
      closed = false;
      stop();
    }
  }

  private fail(res: Res, e: unknown) {
    let status: Status;
    if (e instanceof StatusError) status = e.toStatus();
    else {
      // Anything that is not a Status is a bug; say so without crashing or hanging.
      console.error('internal error:', e);
      status = errors.internal((e as Error)?.message ?? String(e)).toStatus();
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    send(res, status.code, JSON.stringify(status), 'application/json');
  }
}

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function apiVersion(spec: KindSpec): string {
  return spec.group ? `${spec.group}/${spec.version}` : spec.version;
}

export function send(res: Res, code: number, body: string | Buffer, contentType: string, warnings: string[] = []) {
  const headers: Record<string, string | string[]> = { 'content-type': contentType };
  if (warnings.length) headers.warning = [...new Set(warnings)].map((w) => `299 - ${JSON.stringify(w)}`);
  (res as ServerResponse).writeHead(code, headers);
  res.end(body);
}

function sendFormatted(res: Res, code: number, body: unknown, format: ResponseFormat, warnings: string[]) {
  if (format.kind === 'yaml') return send(res, code, yaml().stringify(body), 'application/yaml', warnings);
  return send(res, code, jsonText(body), 'application/json', warnings);
}

/** A list's JSON, its items from their remembered texts: what JSON.stringify(list) would give. */
function listJson(list: { kind: string; apiVersion: string; metadata: Record<string, unknown>; items: unknown[] }): string {
  return `{"kind":${JSON.stringify(list.kind)},"apiVersion":${JSON.stringify(list.apiVersion)},"metadata":${JSON.stringify(list.metadata)},"items":[${list.items.map(jsonText).join(',')}]}`;
}

function includeOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw errors.badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return n;
}

function dryRunOf(q: URLSearchParams): boolean {
  const all = q.getAll('dryRun');
  for (const v of all) if (v !== 'All') throw errors.badRequest(`Invalid dry run value: ${JSON.stringify(v)}; supported values: "All"`);
  return all.length > 0;
}

function fieldValidationOf(q: URLSearchParams): FieldValidation | undefined {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return undefined;
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw errors.badRequest(`fieldValidation parameter unsupported: ${v}`);
}

async function deleteOptionsOf(req: Req, q: URLSearchParams): Promise<DeleteOptions> {
  const buf = await readBody(req as never);
  let body: Record<string, unknown> = {};
  if (buf.length) {
    const parsed = decodeObjectBody(header(req, 'content-type') ?? 'application/json', buf);
    if (!isPlainObject(parsed)) throw errors.badRequest('DeleteOptions must be an object');
    body = parsed;
  }
  const opts: DeleteOptions = {};
  const policy = body.propagationPolicy ?? q.get('propagationPolicy') ?? undefined;
  const orphan = body.orphanDependents ?? (q.get('orphanDependents') === null ? undefined : q.get('orphanDependents') === 'true');
  if (policy !== undefined && policy !== null) {
    if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan')
      throw errors.badRequest(`DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
    opts.propagationPolicy = policy;
  } else if (orphan === true) opts.propagationPolicy = 'Orphan';
  else if (orphan === false) opts.propagationPolicy = 'Background';
  const grace = body.gracePeriodSeconds ?? (q.get('gracePeriodSeconds') === null ? undefined : Number(q.get('gracePeriodSeconds')));
  if (grace !== undefined && grace !== null) {
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0) throw errors.badRequest('gracePeriodSeconds must be a non-negative integer');
    opts.gracePeriodSeconds = grace;
  }
  if (isPlainObject(body.preconditions)) {
    const p = body.preconditions;
    opts.preconditions = {
      uid: typeof p.uid === 'string' ? p.uid : undefined,
      resourceVersion: typeof p.resourceVersion === 'string' ? p.resourceVersion : undefined,
    };
  }
  return opts;
}
