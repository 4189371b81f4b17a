// Cluster PKI: one CA, the API server's serving certificate, an admin client certificate and
// bearer token, and the service-account signing key pair. Everything is ECDSA P-256 (fast to
// generate, accepted by Go's crypto/tls, so real kubectl trusts it), issued with node:crypto and
// x509.ts. All material is PEM.
import { generateKeyPairSync, randomBytes, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { CertKeyPair, ClusterPki } from './pki-files.js';
export { caCertHash, loadPki, savePki, loadIssued, saveIssued, issuedCert, type CertKeyPair, type ClusterPki } from './pki-files.js';
import { createCertificate, KeyUsage, subjectOf, type Name } from './x509.js';

const DAY = 24 * 3600 * 1000;
const CA_VALIDITY = 3650 * DAY;
const LEAF_VALIDITY = 365 * DAY;

/** The names every API serving certificate carries, whatever the cluster settings. */
export const DEFAULT_API_SANS = [
  '127.0.0.1', '::1', 'localhost',
  'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local',
];

function newKeys(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

const privatePem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const publicPem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

// Positive 16-byte serial: the top bit cleared keeps the DER INTEGER positive, as RFC 5280 requires.
function serial(): Buffer {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  b[0] |= 0x01;
  return b;
}

// Backdated by an hour so a slightly skewed clock never sees a "not yet valid" certificate.
function validity(ms: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 3600 * 1000), notAfter: new Date(now + ms) };
}

async function signLeaf(ca: CertKeyPair, subject: Name, usage: 'serverAuth' | 'clientAuth', sans: string[]): Promise<CertKeyPair> {
  const keys = newKeys();
  const cert = createCertificate({
    serial: serial(),
    subject,
    issuer: subjectOf(ca.cert),
    ...validity(LEAF_VALIDITY),
    publicKey: keys.publicKey,
    signingKey: createPrivateKey(ca.key),
    issuerPublicKey: new X509Certificate(ca.cert).publicKey,
    ca: false,
    keyUsage: [KeyUsage.digitalSignature, KeyUsage.keyEncipherment],
    extKeyUsage: [usage],
    sans,
  });
  return { cert, key: privatePem(keys.privateKey) };
}

/** A client certificate for a user or component: CN is the user name, O entries are its groups. */
export function issueClientCert(pki: Pick<ClusterPki, 'ca'>, cn: string, groups: string[] = []): Promise<CertKeyPair> {
  return signLeaf(pki.ca, { cn, o: groups }, 'clientAuth', []);
}

/** A serving certificate (e.g. for a kubelet or a webhook) valid for the given IPs and DNS names. */
export function issueServingCert(pki: Pick<ClusterPki, 'ca'>, cn: string, sans: string[]): Promise<CertKeyPair> {
  return signLeaf(pki.ca, { cn }, 'serverAuth', dedupe(sans));
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs.filter(Boolean))];
}

/** A self-signed CA (the cluster's, or a node's own for its kubelet serving certificate). */
export async function createCa(cn: string): Promise<CertKeyPair> {
  const keys = newKeys();
  const cert = createCertificate({
    serial: serial(),
    subject: { cn },
    issuer: { cn },
    ...validity(CA_VALIDITY),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    ca: true,
    keyUsage: [KeyUsage.digitalSignature, KeyUsage.keyCertSign, KeyUsage.cRLSign],
  });
  return { cert, key: privatePem(keys.privateKey) };
}

export async function createClusterPki(opts: { name: string; sans: string[] }): Promise<ClusterPki> {
  const ca = await createCa('skiff-ca');
  const saKeys = newKeys();
  const [apiServer, admin] = await Promise.all([
    // CN=kube-apiserver mirrors kubeadm; clients check SANs, never the CN.
    signLeaf(ca, { cn: 'kube-apiserver' }, 'serverAuth', dedupe([...DEFAULT_API_SANS, ...opts.sans])),
    issueClientCert({ ca }, 'kubernetes-admin', ['system:masters']),
  ]);
  return {
    ca,
    apiServer,
    admin,
    adminToken: randomBytes(32).toString('base64url'),
    serviceAccount: { publicKey: publicPem(saKeys.publicKey), privateKey: privatePem(saKeys.privateKey) },
  };
}


/** A serving certificate signed by a throwaway CA of its own (a fallback certificate nobody verifies). */
export async function createSelfSignedServingCert(cn: string, sans: string[]): Promise<CertKeyPair> {
  const ca = await createCa(`${cn} CA`);
  return issueServingCert({ ca }, cn, sans);
}
