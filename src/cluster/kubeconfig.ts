// kubeconfig handling with kubectl's rules: which file to write, merge by entry name, leave every
// other entry (and its comments) untouched, never leave a half-written file behind.
import { promises as fs, constants as fsc } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from './files.js';
import { Document, isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';

export interface KubeconfigEntry {
  /** Used for the cluster, user and context names alike (`skiff-<cluster>`). */
  name: string;
  server: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
}

export class KubeconfigError extends Error {}

export function contextName(cluster: string): string {
  return `skiff-${cluster}`;
}

/** The address a client dials for a listen address: a wildcard listener is reached through loopback. */
export function clientHost(listenHost: string): string {
  return listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost === '::' ? '::1' : listenHost;
}

export function serverUrl(listenHost: string, port: number): string {
  const h = clientHost(listenHost);
  return `https://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** `--kubeconfig`, else the first entry of $KUBECONFIG (kubectl writes new entries there), else ~/.kube/config. */
export function resolveKubeconfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit) return path.resolve(explicit);
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((p) => p.trim() !== '');
  if (first) return path.resolve(first);
  return path.join(env.HOME || os.homedir(), '.kube', 'config');
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function entryNodes(e: KubeconfigEntry) {
  return {
    cluster: { name: e.name, cluster: { server: e.server, 'certificate-authority-data': b64(e.caCert) } },
    user: { name: e.name, user: { 'client-certificate-data': b64(e.clientCert), 'client-key-data': b64(e.clientKey) } },
    context: { name: e.name, context: { cluster: e.name, user: e.name } },
  };
}

/** A standalone kubeconfig for one cluster (what `get kubeconfig` prints). */
export function renderKubeconfig(e: KubeconfigEntry): string {
  const n = entryNodes(e);
  return new Document({
    apiVersion: 'v1', kind: 'Config', preferences: {},
    clusters: [n.cluster], users: [n.user], contexts: [n.context], 'current-context': e.name,
  }).toString();
}

async function readDoc(file: string): Promise<Document> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(e as Error).message}`);
  }
  const parsed = parseDocument(text);
  if (parsed.errors.length) throw new KubeconfigError(`kubeconfig ${file} is not valid YAML: ${parsed.errors[0].message.split('\n')[0]}`);
  // A missing or empty file starts as an empty Config.
  const doc: Document = parsed.contents === null ? new Document({ apiVersion: 'v1', kind: 'Config', preferences: {} }) : parsed;
  if (!isMap(doc.contents)) throw new KubeconfigError(`kubeconfig ${file} is not a kubeconfig (expected a mapping)`);
  if (!doc.has('apiVersion')) doc.set('apiVersion', 'v1');
  if (!doc.has('kind')) doc.set('kind', 'Config');
  return doc;
}

function namedList(doc: Document, key: string): YAMLSeq {
  const seq = doc.get(key);
  if (isSeq(seq)) return seq;
  // kubectl writes empty lists as `null`; anything else is not a kubeconfig.
  if (seq !== undefined && seq !== null) throw new KubeconfigError(`kubeconfig field "${key}" is not a list`);
  const fresh = doc.createNode([]) as YAMLSeq;
  doc.set(key, fresh);
  return fresh;
}

function indexOfName(seq: YAMLSeq, name: string): number {
  return seq.items.findIndex((it) => isMap(it) && it.get('name') === name);
}

// Same lock file convention as client-go (`<file>.lock`, created exclusively), so a concurrent
// kubectl or kind does not interleave its read-modify-write with ours.
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      await (await fs.open(lock, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600)).close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new KubeconfigError(`cannot lock kubeconfig ${file}: ${(e as Error).message}`);
      if (attempt >= 50) throw new KubeconfigError(`kubeconfig ${file} is locked by another process (remove ${lock} if it is stale)`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

/** Write via a temp file in the same directory + rename: readers see the old or the new file, never half of one. */

/** Add or replace the entry's cluster, user and context; make it the current context. */
export async function mergeKubeconfig(file: string, entry: KubeconfigEntry): Promise<void> {
  await withLock(file, async () => {
    const doc = await readDoc(file);
    const nodes = entryNodes(entry);
    for (const [key, value] of [['clusters', nodes.cluster], ['users', nodes.user], ['contexts', nodes.context]] as const) {
      const seq = namedList(doc, key);
      const i = indexOfName(seq, entry.name);
      const node = doc.createNode(value);
      if (i >= 0) seq.items[i] = node;
      else seq.items.push(node);
    }
    doc.set('current-context', entry.name);
    await writeFileAtomic(file, doc.toString());
  });
}

/** Remove the cluster, user and context called `name`; returns whether anything was removed. */
export async function removeFromKubeconfig(file: string, name: string): Promise<boolean> {
  try {
    await fs.access(file);
  } catch {
    return false;
  }
  return withLock(file, async () => {
    const doc = await readDoc(file);
    let removed = false;
    for (const key of ['clusters', 'users', 'contexts']) {
      const seq = doc.get(key);
      if (!isSeq(seq)) continue;
      const i = indexOfName(seq, name);
      if (i >= 0) {
        seq.items.splice(i, 1);
        removed = true;
      }
    }
    if (doc.get('current-context') === name) {
      doc.set('current-context', '');
      removed = true;
    }
    if (removed) await writeFileAtomic(file, doc.toString());
    return removed;
  });
}
