// Subresources beyond /status: /scale (autoscaling/v1 Scale over any kind that declares its
// replica paths), pods/eviction and pods/binding, and the review kinds (access and token reviews)
// whose "create" computes an answer instead of storing anything.
import type { KindSpec } from '../api/types.js';
import { errors } from '../machinery/errors.js';
import { fieldErr } from '../machinery/validation.js';
import { deepCopy, getPath, isPlainObject, setPath, type KObject } from '../machinery/object.js';
import { applyPatch } from '../machinery/patch/index.js';
import { labelSelectorToString } from '../machinery/selectors.js';
import { decodeObjectBody, decodePatchBody, mediaType, readBody } from './codec.js';
import type { RequestContext } from './context.js';
import type { Req, Res } from './handler.js';
import type { RequestInfo } from './request-info.js';
import { now, type Resources } from './resources.js';

export interface SubresourceResult {
  object?: KObject;
  code?: number;
}

/** A handler for `<resource>/<subresource>` registered by a component (kubelet proxy, eviction, token…). */
export type SubresourceHandler = (
  req: Req,
  res: Res,
  spec: KindSpec,
  namespace: string | undefined,
  info: RequestInfo,
  ctx: RequestContext,
) => Promise<SubresourceResult>;

/** A POST to a subresource that takes an object (pods/binding, pods/eviction, serviceaccounts/token). */
export type CreateSubresourceHandler = (
  spec: KindSpec,
  namespace: string | undefined,
  name: string,
  body: KObject,
  ctx: RequestContext,
) => Promise<SubresourceResult & { object: KObject }>;

/** Computes the status of a review kind (SelfSubjectAccessReview, TokenReview…). */
export type ReviewHandler = (body: KObject, ctx: RequestContext, namespace: string | undefined) => Promise<KObject['status']>;

export class SubresourceHandlers {
  private handlers = new Map<string, SubresourceHandler>(); // "group/resource/sub"
  private reviews = new Map<string, ReviewHandler>(); // "group/Kind"
  private creates = new Map<string, CreateSubresourceHandler>(); // "group/resource/sub"

  constructor(private resources: Resources) {}

  register(group: string, resource: string, subresource: string, h: SubresourceHandler): void {
    this.handlers.set(`${group}/${resource}/${subresource}`, h);
  }

  registerCreate(group: string, resource: string, subresource: string, h: CreateSubresourceHandler): void {
    this.creates.set(`${group}/${resource}/${subresource}`, h);
  }

  /** The in-process transport's way to POST a subresource (same handler as HTTPS). */
  async createInProcess(spec: KindSpec, ns: string | undefined, name: string, subresource: string, body: KObject, ctx: RequestContext): Promise<KObject> {
    const h = this.creates.get(`${spec.group}/${spec.plural}/${subresource}`);
    if (!h) throw errors.notFound({ group: spec.group, resource: `${spec.plural}/${subresource}` }, name);
    return (await h(spec, ns, name, deepCopy(body), ctx)).object;
  }

  registerReview(group: string, kind: string, h: ReviewHandler): void {
    this.reviews.set(`${group}/${kind}`, h);
  }

  async handle(req: Req, res: Res, spec: KindSpec, ns: string | undefined, info: RequestInfo, ctx: RequestContext): Promise<SubresourceResult | undefined> {
    const key = `${spec.group}/${spec.plural}/${info.subresource}`;
    const create = this.creates.get(key);
    if (create) {
      if (req.method !== 'POST') throw errors.methodNotAllowed();
      const body = decodeObjectBody(req.headers['content-type'] as string | undefined, await readBody(req as never));
      if (!isPlainObject(body)) throw errors.badRequest('the body of the request must be an object');
      const obj = body as KObject;
      if (!isPlainObject(obj.metadata)) obj.metadata = {};
      return create(spec, ns, info.name!, obj, ctx);
    }
    const h = this.handlers.get(key);
    return h ? h(req, res, spec, ns, info, ctx) : undefined;
  }

  async review(spec: KindSpec, ns: string | undefined, body: unknown, ctx: RequestContext): Promise<KObject> {
    const h = this.reviews.get(`${spec.group}/${spec.kind}`);
    if (!h) throw errors.methodNotAllowed();
    if (!isPlainObject(body)) throw errors.badRequest('the body of the request must be an object');
    const obj = deepCopy(body) as KObject;
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    const errs = spec.validate?.(obj) ?? [];
    if (errs.length) throw errors.invalid({ group: spec.group, kind: spec.kind }, obj.metadata.name ?? '', errs);
    obj.apiVersion = spec.group ? `${spec.group}/${spec.version}` : spec.version;
    obj.kind = spec.kind;
    obj.status = await h(obj, ctx, ns);
    obj.metadata = { ...obj.metadata, creationTimestamp: null };
    return obj;
  }

  /** GET/PUT/PATCH of autoscaling/v1 Scale, mapped onto the parent's replica fields. */
  async scale(req: Req, spec: KindSpec, ns: string | undefined, name: string, ctx: RequestContext): Promise<KObject> {
    const sc = spec.subresources!.scale!;
    const parent = await this.resources.get(spec, ns, name);
    const current = toScale(spec, parent);
    if (req.method === 'GET') return current;
    let wanted: KObject;
    if (req.method === 'PUT') {
      const body = decodeObjectBody(req.headers['content-type'] as string | undefined, await readBody(req as never));
      if (!isPlainObject(body)) throw errors.badRequest('Scale must be an object');
      wanted = body as KObject;
      if (!isPlainObject(wanted.metadata)) wanted.metadata = {};
    } else if (req.method === 'PATCH') {
      const ct = req.headers['content-type'] as string | undefined;
      const body = decodePatchBody(ct, await readBody(req as never));
      wanted = applyPatch(mediaType(ct), current, body, {
        strategicAllowed: true,
        manager: ctx.fieldManager || 'unknown',
        force: false,
        now: now(),
        apiVersion: 'autoscaling/v1',
        ignoreStatus: true,
      });
    } else throw errors.methodNotAllowed();
    const replicas = getPath(wanted, 'spec.replicas');
    if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0))
      throw errors.invalid({ group: 'autoscaling', kind: 'Scale' }, name, [fieldErr.invalid('spec.replicas', replicas, 'must be greater than or equal to 0')]);
    const rv = wanted.metadata?.resourceVersion;
    if (rv && rv !== parent.metadata.resourceVersion) throw errors.conflict({ group: spec.group, resource: spec.plural }, name);
    const updated = deepCopy(parent);
    setPath(updated, sc.specReplicasPath, replicas ?? 0);
    const saved = await this.resources.update(spec, ns, name, updated, ctx);
    return toScale(spec, saved);
  }
}

export function toScale(spec: KindSpec, obj: KObject): KObject {
  const sc = spec.subresources!.scale!;
  let selector = '';
  if (sc.labelSelectorPath) {
    const sel = getPath(obj, sc.labelSelectorPath);
    if (typeof sel === 'string') selector = sel;
    else if (isPlainObject(sel)) selector = labelSelectorToString(sel as never);
  }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: (getPath(obj, sc.specReplicasPath) as number | undefined) ?? 0 },
    status: { replicas: (getPath(obj, sc.statusReplicasPath) as number | undefined) ?? 0, ...(selector ? { selector } : {}) },
  };
}

