// The cluster's certificates on disk, without the certificate *generation* code (and its heavy
// X.509 library): the control-plane process only ever reads what `create cluster` wrote.
import { createHash, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface CertKeyPair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  /** CN=skiff-ca; verifies every certificate below. */
  ca: CertKeyPair;
  /** API serving certificate (serverAuth) with the SANs kubectl and in-cluster clients dial. */
  apiServer: CertKeyPair;
  /** CN=kubernetes-admin, O=system:masters (clientAuth). */
  admin: CertKeyPair;
  /** Random bearer token that authenticates as the admin too (for clients without certs). */
  adminToken: string;
  /** Service-account token signing keys (ES256 JWTs); public half verifies them. */
  serviceAccount: { publicKey: string; privateKey: string };
}

/** kubeadm's --discovery-token-ca-cert-hash: sha256 of the CA's SubjectPublicKeyInfo. */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

// On-disk layout, named like kubeadm's /etc/kubernetes/pki so operators recognise the files.
const FILES = {
  'ca.crt': (p: ClusterPki) => p.ca.cert,
  'ca.key': (p: ClusterPki) => p.ca.key,
  'apiserver.crt': (p: ClusterPki) => p.apiServer.cert,
  'apiserver.key': (p: ClusterPki) => p.apiServer.key,
  'admin.crt': (p: ClusterPki) => p.admin.cert,
  'admin.key': (p: ClusterPki) => p.admin.key,
  'admin.token': (p: ClusterPki) => p.adminToken,
  'sa.pub': (p: ClusterPki) => p.serviceAccount.publicKey,
  'sa.key': (p: ClusterPki) => p.serviceAccount.privateKey,
} as const;

export async function savePki(dir: string, pki: ClusterPki): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  for (const [file, get] of Object.entries(FILES)) {
    const target = path.join(dir, file);
    await fs.writeFile(target, get(pki), { mode: 0o600 });
    await fs.chmod(target, 0o600); // writeFile's mode only applies when it creates the file
  }
}

export async function loadPki(dir: string): Promise<ClusterPki> {
  const read = async (f: keyof typeof FILES): Promise<string> => {
    try {
      return await fs.readFile(path.join(dir, f), 'utf8');
    } catch (e) {
      throw new Error(`cluster certificates are incomplete: cannot read ${path.join(dir, f)} (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
  };
  return {
    ca: { cert: await read('ca.crt'), key: await read('ca.key') },
    apiServer: { cert: await read('apiserver.crt'), key: await read('apiserver.key') },
    admin: { cert: await read('admin.crt'), key: await read('admin.key') },
    adminToken: (await read('admin.token')).trim(),
    serviceAccount: { publicKey: await read('sa.pub'), privateKey: await read('sa.key') },
  };
}

/** Certificates issued for components (kubelets, the API server's kubelet client), kept beside the PKI. */
export async function loadIssued(dir: string, name: string): Promise<CertKeyPair | undefined> {
  try {
    return {
      cert: await fs.readFile(path.join(dir, 'issued', `${name}.crt`), 'utf8'),
      key: await fs.readFile(path.join(dir, 'issued', `${name}.key`), 'utf8'),
    };
  } catch {
    return undefined;
  }
}

export async function saveIssued(dir: string, name: string, pair: CertKeyPair): Promise<void> {
  await fs.mkdir(path.join(dir, 'issued'), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(dir, 'issued', `${name}.crt`), pair.cert, { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'issued', `${name}.key`), pair.key, { mode: 0o600 });
}

/**
 * A component certificate from the PKI directory, issued (and kept) on first use. `create cluster`
 * issues them ahead, so the control-plane process normally never loads the X.509 generation code.
 */
export async function issuedCert(dir: string, name: string, issue: (pki: typeof import('./pki.js')) => Promise<CertKeyPair>): Promise<CertKeyPair> {
  const cached = await loadIssued(dir, name);
  if (cached) return cached;
  const pair = await issue(await import('./pki.js'));
  await saveIssued(dir, name, pair);
  return pair;
}
