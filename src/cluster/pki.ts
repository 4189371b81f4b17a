// Cluster PKI: one CA, the API server's serving certificate, an admin client certificate and
// bearer token, and the service-account signing key pair. Everything is ECDSA P-256 (fast to
// generate, accepted by Go's crypto/tls, so real kubectl trusts it). All material is PEM.
import { webcrypto, randomBytes } from 'node:crypto';
import type { CertKeyPair, ClusterPki } from './pki-files.js';
export { caCertHash, loadPki, savePki, loadIssued, saveIssued, issuedCert, type CertKeyPair, type ClusterPki } from './pki-files.js';
import net from 'node:net';
import './reflect-metadata.js'; // must precede @peculiar/x509
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 24 * 3600 * 1000;
const CA_VALIDITY = 3650 * DAY;
const LEAF_VALIDITY = 365 * DAY;

/** The names every API serving certificate carries, whatever the cluster settings. */
export const DEFAULT_API_SANS = [
  '127.0.0.1', '::1', 'localhost',
  'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local',
];

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privatePem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function publicPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('spki', key);
  return x509.PemConverter.encode(der, 'PUBLIC KEY');
}

async function importPrivate(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

// Positive 16-byte serial: the top bit cleared keeps the DER INTEGER positive, as RFC 5280 requires.
function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  b[0] |= 0x01;
  return b.toString('hex');
}

// Backdated by an hour so a slightly skewed clock never sees a "not yet valid" certificate.
function validity(ms: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 3600 * 1000), notAfter: new Date(now + ms) };
}

function subjectName(cn: string, groups: string[] = []): x509.JsonName {
  return [{ CN: [cn] }, ...groups.map((o) => ({ O: [o] }))];
}

async function signLeaf(
  ca: CertKeyPair,
  subject: x509.JsonName,
  usage: x509.ExtendedKeyUsage,
  sans: string[],
): Promise<CertKeyPair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importPrivate(ca.key);
  const keys = await newKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage]),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (sans.length) {
    extensions.push(new x509.SubjectAlternativeNameExtension(
      sans.map((s) => ({ type: net.isIP(s) ? 'ip' : 'dns', value: s }) as x509.JsonGeneralName),
    ));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subjectName,
    ...validity(LEAF_VALIDITY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGN,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await privatePem(keys.privateKey) };
}

/** A client certificate for a user or component: CN is the user name, O entries are its groups. */
export function issueClientCert(pki: Pick<ClusterPki, 'ca'>, cn: string, groups: string[] = []): Promise<CertKeyPair> {
  return signLeaf(pki.ca, subjectName(cn, groups), x509.ExtendedKeyUsage.clientAuth, []);
}

/** A serving certificate (e.g. for a kubelet or a webhook) valid for the given IPs and DNS names. */
export function issueServingCert(pki: Pick<ClusterPki, 'ca'>, cn: string, sans: string[]): Promise<CertKeyPair> {
  return signLeaf(pki.ca, subjectName(cn), x509.ExtendedKeyUsage.serverAuth, dedupe(sans));
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs.filter(Boolean))];
}

/** A self-signed CA (the cluster's, or a node's own for its kubelet serving certificate). */
export async function createCa(cn: string): Promise<CertKeyPair> {
  const caKeys = await newKeys();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subjectName(cn),
    ...validity(CA_VALIDITY),
    keys: caKeys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return { cert: caCert.toString('pem'), key: await privatePem(caKeys.privateKey) };
}

export async function createClusterPki(opts: { name: string; sans: string[] }): Promise<ClusterPki> {
  const ca = await createCa('skiff-ca');
  const saKeys = await newKeys();
  const [apiServer, admin] = await Promise.all([
    // CN=kube-apiserver mirrors kubeadm; clients check SANs, never the CN.
    signLeaf(ca, subjectName('kube-apiserver'), x509.ExtendedKeyUsage.serverAuth, dedupe([...DEFAULT_API_SANS, ...opts.sans])),
    issueClientCert({ ca }, 'kubernetes-admin', ['system:masters']),
  ]);
  return {
    ca,
    apiServer,
    admin,
    adminToken: randomBytes(32).toString('base64url'),
    serviceAccount: { publicKey: await publicPem(saKeys.publicKey), privateKey: await privatePem(saKeys.privateKey) },
  };
}


/** A serving certificate signed by a throwaway CA of its own (a fallback certificate nobody verifies). */
export async function createSelfSignedServingCert(cn: string, sans: string[]): Promise<CertKeyPair> {
  const ca = await createCa(`${cn} CA`);
  return issueServingCert({ ca }, cn, sans);
}
