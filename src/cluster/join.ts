// Joining nodes, kubeadm-style: the control plane keeps a join token; `skiff get join-command`
// prints `skiff node join --server … --token … --ca-cert-hash sha256:…`; the joining node reads
// kube-public/cluster-info anonymously, checks the CA against the hash, and from then on talks
// to the API over verified TLS with the token.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { yaml } from '../machinery/yaml.js';
import { caCertHash } from './pki-files.js';

export const JOIN_TOKEN_FILE = 'join.token';

/** kubeadm's token shape: `[a-z0-9]{6}.[a-z0-9]{16}` (id.secret). */
export function loadOrCreateJoinToken(pkiDir: string): string {
  const file = path.join(pkiDir, JOIN_TOKEN_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const pick = (n: number) => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
  const token = `${pick(6)}.${pick(16)}`;
  mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

export function joinCommand(server: string, token: string, caPem: string): string {
  return `skiff node join --server ${server} --token ${token} --ca-cert-hash ${caCertHash(caPem)}`;
}

/** Fetch the cluster CA from cluster-info and check it against the expected hash. */
export async function discoverCa(server: string, expectedHash: string): Promise<string> {
  const url = new URL('/api/v1/namespaces/kube-public/configmaps/cluster-info', server);
  const body = await new Promise<string>((resolve, reject) => {
    // Not verified yet on purpose: the CA we get is verified against the hash below before any
    // secret (the token) is sent.
    const req = https.get(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`cluster-info: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out reading cluster-info')));
    req.on('error', reject);
  });
  const cm = JSON.parse(body) as { data?: { kubeconfig?: string } };
  const kc = yaml().parse(cm.data?.kubeconfig ?? '') as { clusters?: { cluster?: { 'certificate-authority-data'?: string } }[] };
  const caData = kc?.clusters?.[0]?.cluster?.['certificate-authority-data'];
  if (!caData) throw new Error('cluster-info has no certificate authority');
  const ca = Buffer.from(caData, 'base64').toString('utf8');
  const actual = caCertHash(ca);
  if (actual !== expectedHash) throw new Error(`the cluster CA's hash ${actual} does not match --ca-cert-hash ${expectedHash}`);
  return ca;
}
