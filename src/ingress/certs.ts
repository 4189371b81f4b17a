// TLS certificates for the Ingress listeners: one SecureContext per kubernetes.io/tls Secret,
// chosen per SNI server name from the served Ingresses' `spec.tls[].hosts`, and a self-signed
// default certificate for unknown names (what ingress-nginx calls its "fake certificate").
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { KObject } from '../machinery/object.js';
import { asArr, asObj, asStr, dig } from '../api/common/shape.js';
import type { CertKeyPair } from '../cluster/pki-files.js';
import { compareAge, ingressKey, normalizeHost } from './routing.js';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** A self-signed serving certificate for names no Secret covers. */
export async function createDefaultCertificate(): Promise<CertKeyPair> {
  // Loaded only when no certificate was handed in: the X.509 code is slow to load.
  const { createSelfSignedServingCert } = await import('../cluster/pki.js');
  return createSelfSignedServingCert('Skiff Ingress Controller Fake Certificate', ['ingress.local']);
}

/** PEM certificate and key of a kubernetes.io/tls Secret, or an explanation of what is wrong. */
export function readTlsSecret(secret: KObject): CertKeyPair | string {
  const type = asStr((secret as Record<string, unknown>).type);
  if (type !== TLS_SECRET_TYPE) return `secret type is ${type ?? '<none>'}, want ${TLS_SECRET_TYPE}`;
  const data = asObj((secret as Record<string, unknown>).data) ?? {};
  const crt = asStr(data['tls.crt']);
  const key = asStr(data['tls.key']);
  if (!crt || !key) return 'secret lacks tls.crt or tls.key';
  return { cert: Buffer.from(crt, 'base64').toString('utf8'), key: Buffer.from(key, 'base64').toString('utf8') };
}

interface Entry {
  rv: string;
  ctx?: tls.SecureContext;
  error?: string;
}

/**
 * SNI name → SecureContext. `rebuild` is called with the served Ingresses and a Secret lookup;
 * contexts are cached per Secret resourceVersion so a rebuild costs nothing when Secrets did not
 * change. An Ingress's tls entry without hosts covers the hosts of its own rules.
 */
export class CertStore {
  private bySecret = new Map<string, Entry>();
  private exact = new Map<string, tls.SecureContext>();
  private wildcard = new Map<string, tls.SecureContext>();
  /** Hosts that have TLS configured (exact names and "*.suffix"). */
  readonly tlsHosts = new Set<string>();
  errors: string[] = [];

  readonly defaultContext: tls.SecureContext;

  constructor(readonly defaultPair: CertKeyPair) {
    this.defaultContext = tls.createSecureContext(defaultPair);
  }

  rebuild(ingresses: KObject[], getSecret: (ns: string, name: string) => KObject | undefined): void {
    const exact = new Map<string, tls.SecureContext>();
    const wildcard = new Map<string, tls.SecureContext>();
    const used = new Set<string>();
    const errors: string[] = [];
    this.tlsHosts.clear();
    for (const ing of [...ingresses].sort(compareAge)) {
      const ns = ing.metadata.namespace ?? 'default';
      const ruleHosts = asArr(dig(ing, 'spec', 'rules'))
        .map((r) => asStr(asObj(r)?.host))
        .filter((h): h is string => !!h);
      for (const t of asArr(dig(ing, 'spec', 'tls'))) {
        const to = asObj(t);
        if (!to) continue;
        const secretName = asStr(to.secretName);
        let hosts = asArr(to.hosts).filter((h): h is string => typeof h === 'string' && h !== '');
        if (hosts.length === 0) hosts = ruleHosts;
        hosts = hosts.map((h) => h.toLowerCase());
        for (const h of hosts) this.tlsHosts.add(h);
        if (!secretName) continue; // TLS for these hosts with the default certificate
        const key = `${ns}/${secretName}`;
        used.add(key);
        const ctx = this.contextFor(key, getSecret(ns, secretName));
        if (!ctx) {
          errors.push(`${ingressKey(ing)}: TLS secret ${key}: ${this.bySecret.get(key)?.error ?? 'not found'}; serving the default certificate`);
          continue;
        }
        for (const h of hosts) {
          const wild = h.startsWith('*.');
          const map = wild ? wildcard : exact;
          const k = wild ? h.slice(2) : h;
          if (!map.has(k)) map.set(k, ctx); // oldest Ingress wins
        }
      }
    }
    for (const k of this.bySecret.keys()) if (!used.has(k)) this.bySecret.delete(k);
    this.exact = exact;
    this.wildcard = wildcard;
    this.errors = errors;
  }

  private contextFor(key: string, secret: KObject | undefined): tls.SecureContext | undefined {
    if (!secret) {
      this.bySecret.set(key, { rv: '', error: 'not found' });
      return undefined;
    }
    const rv = secret.metadata.resourceVersion ?? '';
    const cached = this.bySecret.get(key);
    if (cached && cached.rv === rv) return cached.ctx;
    const entry: Entry = { rv };
    const pair = readTlsSecret(secret);
    if (typeof pair === 'string') entry.error = pair;
    else {
      try {
        new X509Certificate(pair.cert); // a clearer error than the TLS layer gives
        entry.ctx = tls.createSecureContext({ cert: pair.cert, key: pair.key });
      } catch (e) {
        entry.error = `invalid certificate or key: ${(e as Error).message}`;
      }
    }
    this.bySecret.set(key, entry);
    return entry.ctx;
  }

  /** The context for an SNI name: exact, then single-label wildcard, then the default. */
  lookup(servername: string | undefined): tls.SecureContext {
    const host = normalizeHost(servername);
    if (!host) return this.defaultContext;
    const e = this.exact.get(host);
    if (e) return e;
    const dot = host.indexOf('.');
    if (dot > 0) {
      const w = this.wildcard.get(host.slice(dot + 1));
      if (w) return w;
    }
    return this.defaultContext;
  }

  /** For tls.Server's SNICallback. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, this.lookup(servername));
  };
}
