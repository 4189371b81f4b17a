// Service-account tokens: ES256 JWTs signed with the cluster's service-account key (sa.key),
// issued by the TokenRequest subresource (`POST …/serviceaccounts/<name>/token`, what
// `kubectl create token` and the kubelet's projected volumes call) and accepted by the API server
// through a TokenAuthenticator. Claims follow upstream's bound tokens:
//   iss, sub=system:serviceaccount:<ns>:<name>, aud, exp, iat, nbf, jti,
//   kubernetes.io: {namespace, serviceaccount{name,uid}, pod{name,uid} | secret{…} | node{…}}
// A token stops working when it expires, when its service account is deleted (or recreated with
// another uid), and when the object it is bound to goes.
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { UserInfo } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import type { SubresourceHandlers } from '../apiserver/subresources.js';
import { errors, StatusError } from '../machinery/errors.js';
import { fieldErr } from '../machinery/validation.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import type { WatchHandle } from '../storage/store.js';
import { parseServiceAccountUsername, serviceAccountUsername } from './rbac.js';
import { rfc3339 } from '../machinery/time.js';

/** kind/kubeadm's default issuer, also the API server's audience. */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const DEFAULT_EXPIRATION_SECONDS = 3600;
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;

export interface BoundRef {
  kind: 'Pod' | 'Secret' | 'Node';
  name: string;
  uid: string;
}

export interface ServiceAccountClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': {
    namespace: string;
    serviceaccount: { name: string; uid: string };
    pod?: { name: string; uid: string };
    secret?: { name: string; uid: string };
    node?: { name: string; uid: string };
  };
}

export interface IssueOptions {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  /** Default: the signer's API audiences. */
  audiences?: string[];
  expirationSeconds?: number;
  bound?: BoundRef;
  /** Seconds since the epoch; for tests. */
  now?: number;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class TokenSigner {
  readonly issuer: string;
  /** The audiences the API server accepts (and gives tokens that ask for none). */
  readonly apiAudiences: string[];
  readonly keyId: string;
  private privateKey?: KeyObject;
  private publicKey: KeyObject;

  /** `privateKey` may be omitted by a verifier that never issues. */
  constructor(keys: { publicKey: string; privateKey?: string }, opts: { issuer?: string; apiAudiences?: string[] } = {}) {
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.apiAudiences = opts.apiAudiences?.length ? opts.apiAudiences : [this.issuer];
    this.publicKey = createPublicKey(keys.publicKey);
    if (keys.privateKey) this.privateKey = createPrivateKey(keys.privateKey);
    // Upstream's key id: the SHA-256 of the DER public key, base64url.
    this.keyId = b64url(createHash('sha256').update(this.publicKey.export({ type: 'spki', format: 'der' })).digest());
  }

  /** Sign any claims (tests use it to forge expired or foreign tokens). */
  sign(claims: object): string {
    if (!this.privateKey) throw new Error('this token signer has no private key');
    const head = b64url(JSON.stringify({ alg: 'ES256', kid: this.keyId }));
    const body = b64url(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${head}.${body}.${b64url(sig)}`;
  }

  issue(o: IssueOptions): { token: string; claims: ServiceAccountClaims } {
    const now = o.now ?? Math.floor(Date.now() / 1000);
    const exp = now + (o.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS);
    const k8s: ServiceAccountClaims['kubernetes.io'] = { namespace: o.namespace, serviceaccount: { ...o.serviceAccount } };
    if (o.bound) {
      const ref = { name: o.bound.name, uid: o.bound.uid };
      if (o.bound.kind === 'Pod') k8s.pod = ref;
      else if (o.bound.kind === 'Secret') k8s.secret = ref;
      else k8s.node = ref;
    }
    const claims: ServiceAccountClaims = {
      aud: o.audiences?.length ? [...o.audiences] : [...this.apiAudiences],
      exp,
      iat: now,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': k8s,
      nbf: now,
      sub: serviceAccountUsername(o.namespace, o.serviceAccount.name),
    };
    return { token: this.sign(claims), claims };
  }

  /**
   * The claims of a well-formed token this issuer signed, still valid at `now` and meant for one
   * of the API audiences; undefined otherwise (the next authenticator may know the token).
   */
  verify(token: string, now = Math.floor(Date.now() / 1000)): ServiceAccountClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    let header: { alg?: string };
    let claims: ServiceAccountClaims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isPlainObject(header) || header.alg !== 'ES256' || !isPlainObject(claims)) return undefined;
    if (claims.iss !== this.issuer) return undefined;
    const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: this.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
    if (!ok) return undefined;
    const leeway = 60; // upstream tolerates a minute of clock skew
    if (typeof claims.exp !== 'number' || now > claims.exp + leeway) return undefined;
    if (typeof claims.nbf === 'number' && now < claims.nbf - leeway) return undefined;
    const aud = Array.isArray(claims.aud) ? claims.aud : typeof claims.aud === 'string' ? [claims.aud] : [];
    if (!aud.some((a) => this.apiAudiences.includes(a))) return undefined;
    const k = claims['kubernetes.io'];
    if (!isPlainObject(k) || typeof k.namespace !== 'string' || !isPlainObject(k.serviceaccount) || typeof k.serviceaccount.name !== 'string') return undefined;
    const parsed = parseServiceAccountUsername(claims.sub ?? '');
    if (!parsed || parsed[0] !== k.namespace || parsed[1] !== k.serviceaccount.name) return undefined;
    return claims;
  }
}

// ---- live objects a token depends on ----

/** The uid of an object by namespace/name, or undefined when it does not exist. */
export interface UidLookup {
  serviceAccountUid(namespace: string, name: string): string | undefined;
  podUid?(namespace: string, name: string): string | undefined;
  secretUid?(namespace: string, name: string): string | undefined;
  nodeUid?(name: string): string | undefined;
}

/** uids of service accounts, pods, secrets and nodes, followed through watches (only uids are kept). */
export class UidCache implements UidLookup {
  private maps = { serviceaccounts: new Map<string, string>(), pods: new Map<string, string>(), secrets: new Map<string, string>(), nodes: new Map<string, string>() };
  private watches: WatchHandle[] = [];

  async start(resources: Resources): Promise<void> {
    for (const plural of Object.keys(this.maps) as (keyof UidCache['maps'])[]) {
      const m = this.maps[plural];
      const h = await resources.watch(resources.spec('', 'v1', plural), undefined, {}, (ev) => {
        const key = `${ev.object.metadata.namespace ?? ''}/${ev.object.metadata.name}`;
        if (ev.type === 'DELETED') {
          if (m.get(key) === ev.object.metadata.uid) m.delete(key);
        } else m.set(key, ev.object.metadata.uid ?? '');
      });
      this.watches.push(h);
    }
  }

  stop(): void {
    for (const w of this.watches) w.stop();
    this.watches = [];
  }

  serviceAccountUid(ns: string, name: string) {
    return this.maps.serviceaccounts.get(`${ns}/${name}`);
  }
  podUid(ns: string, name: string) {
    return this.maps.pods.get(`${ns}/${name}`);
  }
  secretUid(ns: string, name: string) {
    return this.maps.secrets.get(`${ns}/${name}`);
  }
  nodeUid(name: string) {
    return this.maps.nodes.get(`/${name}`);
  }
}

// ---- authentication ----

/** For Authenticator.addTokenAuthenticator: service-account JWTs become `system:serviceaccount:<ns>:<name>`. */
export class ServiceAccountTokenAuthenticator {
  constructor(
    private signer: TokenSigner,
    /** Without a lookup, tokens are trusted until they expire (no revocation by deletion). */
    private lookup?: UidLookup,
    private clock: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  authenticateToken(token: string): UserInfo | undefined {
    const claims = this.signer.verify(token, this.clock());
    if (!claims) return undefined;
    const k = claims['kubernetes.io'];
    const ns = k.namespace;
    const sa = k.serviceaccount;
    const extra: Record<string, string[]> = { 'authentication.kubernetes.io/credential-id': [`JTI=${claims.jti}`] };
    if (this.lookup) {
      const uid = this.lookup.serviceAccountUid(ns, sa.name);
      if (uid === undefined || (sa.uid && uid !== sa.uid)) return undefined;
      if (k.pod && this.lookup.podUid && this.lookup.podUid(ns, k.pod.name) !== k.pod.uid) return undefined;
      if (k.secret && this.lookup.secretUid && this.lookup.secretUid(ns, k.secret.name) !== k.secret.uid) return undefined;
      if (k.node && this.lookup.nodeUid && this.lookup.nodeUid(k.node.name) !== k.node.uid) return undefined;
    }
    if (k.pod) {
      extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
    }
    if (k.node) {
      extra['authentication.kubernetes.io/node-name'] = [k.node.name];
      extra['authentication.kubernetes.io/node-uid'] = [k.node.uid];
    }
    return {
      name: serviceAccountUsername(ns, sa.name),
      uid: sa.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
      extra,
    };
  }
}

// ---- TokenRequest: POST serviceaccounts/<name>/token ----

const TOKEN_REQUEST_GK = { group: 'authentication.k8s.io', kind: 'TokenRequest' };

function invalid(name: string, field: string, value: unknown, msg: string): StatusError {
  return errors.invalid(TOKEN_REQUEST_GK, name, [fieldErr.invalid(field, value, msg)]);
}

const BOUND_KINDS: Record<string, string> = { Pod: 'pods', Secret: 'secrets', Node: 'nodes' };

export function registerTokenRequest(h: SubresourceHandlers, resources: Resources, signer: TokenSigner): void {
  h.registerCreate('', 'serviceaccounts', 'token', async (spec, ns, name, body) => {
    const namespace = ns ?? '';
    const sa = await resources.get(spec, namespace, name);
    const reqSpec = isPlainObject(body.spec) ? body.spec : {};
    const audiences = Array.isArray(reqSpec.audiences) ? reqSpec.audiences.filter((a): a is string => typeof a === 'string' && a !== '') : [];
    let expirationSeconds = DEFAULT_EXPIRATION_SECONDS;
    if (reqSpec.expirationSeconds !== undefined && reqSpec.expirationSeconds !== null) {
      const e = Number(reqSpec.expirationSeconds);
      if (!Number.isInteger(e)) throw invalid(name, 'spec.expirationSeconds', reqSpec.expirationSeconds, 'must be an integer');
      if (e < MIN_EXPIRATION_SECONDS) throw invalid(name, 'spec.expirationSeconds', e, 'may not specify a duration less than 10 minutes');
      if (e > MAX_EXPIRATION_SECONDS) throw invalid(name, 'spec.expirationSeconds', e, 'may not specify a duration larger than 2^32 seconds');
      expirationSeconds = e;
    }
    let bound: BoundRef | undefined;
    const ref = isPlainObject(reqSpec.boundObjectRef) ? reqSpec.boundObjectRef : undefined;
    if (ref) {
      const kind = typeof ref.kind === 'string' ? ref.kind : '';
      const plural = BOUND_KINDS[kind];
      if (!plural) throw invalid(name, 'spec.boundObjectRef.kind', kind, 'supported kinds are "Pod", "Secret", "Node"');
      const refName = typeof ref.name === 'string' ? ref.name : '';
      if (!refName) throw errors.invalid(TOKEN_REQUEST_GK, name, [fieldErr.required('spec.boundObjectRef.name')]);
      const target = await resources.get(resources.spec('', 'v1', plural), kind === 'Node' ? undefined : namespace, refName);
      const uid = target.metadata.uid ?? '';
      if (typeof ref.uid === 'string' && ref.uid && ref.uid !== uid)
        throw errors.conflict(
          { group: '', resource: kind },
          refName,
          `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
        );
      if (kind === 'Pod') {
        const podSa = (target.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName || 'default';
        if (podSa !== name) throw errors.badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with different serviceaccount name.`);
      }
      bound = { kind: kind as BoundRef['kind'], name: refName, uid };
    }
    const { token, claims } = signer.issue({
      namespace,
      serviceAccount: { name, uid: sa.metadata.uid ?? '' },
      audiences,
      expirationSeconds,
      bound,
    });
    const outSpec: Record<string, unknown> = { audiences: claims.aud, expirationSeconds };
    if (ref) outSpec.boundObjectRef = { kind: ref.kind, apiVersion: ref.apiVersion ?? (ref.kind === 'Pod' || ref.kind === 'Secret' || ref.kind === 'Node' ? 'v1' : undefined), name: ref.name, uid: bound?.uid };
    const object: KObject = {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name, namespace, creationTimestamp: rfc3339(claims.iat * 1000) },
      spec: outSpec,
      status: { token, expirationTimestamp: rfc3339(claims.exp * 1000) },
    };
    return { object, code: 201 };
  });
}
