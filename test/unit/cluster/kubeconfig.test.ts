import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  KubeconfigError, mergeKubeconfig, removeFromKubeconfig, renderKubeconfig, resolveKubeconfigPath, serverUrl,
} from '../../../src/cluster/kubeconfig.js';

const entry = { name: 'skiff-a', server: 'https://127.0.0.1:40000', caCert: 'CA-PEM', clientCert: 'CERT-PEM', clientKey: 'KEY-PEM' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

const EXISTING = `# my clusters — keep this comment
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
contexts:
- name: prod
  context: { cluster: prod, user: prod }
users:
- name: prod
  user: { token: secret }
current-context: prod
`;

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'skiff-kc-'));
}

test('resolution: --kubeconfig, else the first $KUBECONFIG entry, else ~/.kube/config', () => {
  assert.equal(resolveKubeconfigPath('/x/flag', { KUBECONFIG: '/x/a:/x/b' }), '/x/flag');
  assert.equal(resolveKubeconfigPath(undefined, { KUBECONFIG: `${path.delimiter}/x/a${path.delimiter}/x/b` }), '/x/a');
  assert.equal(resolveKubeconfigPath(undefined, { HOME: '/home/u' }), '/home/u/.kube/config');
  assert.equal(serverUrl('0.0.0.0', 1), 'https://127.0.0.1:1');
  assert.equal(serverUrl('::1', 2), 'https://[::1]:2');
});

test('merge adds cluster/user/context, sets current-context, preserves other entries and comments, mode 0600', async () => {
  const dir = await tmp();
  try {
    const file = path.join(dir, 'config');
    await writeFile(file, EXISTING, { mode: 0o644 });
    await mergeKubeconfig(file, entry);
    const text = await readFile(file, 'utf8');
    assert.ok(text.startsWith('# my clusters — keep this comment'));
    const kc = parse(text);
    assert.equal(kc['current-context'], 'skiff-a');
    assert.deepEqual(kc.clusters.map((c: { name: string }) => c.name), ['prod', 'skiff-a']);
    assert.deepEqual(kc.clusters[0], { name: 'prod', cluster: { server: 'https://prod.example:6443' } });
    assert.deepEqual(kc.users[0], { name: 'prod', user: { token: 'secret' } });
    assert.deepEqual(kc.clusters[1].cluster, { server: entry.server, 'certificate-authority-data': b64('CA-PEM') });
    assert.deepEqual(kc.users[1].user, { 'client-certificate-data': b64('CERT-PEM'), 'client-key-data': b64('KEY-PEM') });
    assert.deepEqual(kc.contexts[1], { name: 'skiff-a', context: { cluster: 'skiff-a', user: 'skiff-a' } });
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    // Merging again replaces rather than duplicates.
    await mergeKubeconfig(file, { ...entry, server: 'https://127.0.0.1:40001' });
    const again = parse(await readFile(file, 'utf8'));
    assert.equal(again.clusters.length, 2);
    assert.equal(again.clusters[1].cluster.server, 'https://127.0.0.1:40001');
    // No temp or lock files left behind.
    assert.deepEqual(await readdir(dir), ['config']);

    assert.equal(await removeFromKubeconfig(file, 'skiff-a'), true);
    const after = parse(await readFile(file, 'utf8'));
    assert.deepEqual(after.clusters.map((c: { name: string }) => c.name), ['prod']);
    assert.deepEqual(after.users.map((c: { name: string }) => c.name), ['prod']);
    assert.deepEqual(after.contexts.map((c: { name: string }) => c.name), ['prod']);
    assert.equal(after['current-context'], '');
    assert.equal(await removeFromKubeconfig(file, 'skiff-a'), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('merge creates missing parent directories and a fresh file; render gives a standalone config', async () => {
  const dir = await tmp();
  try {
    const file = path.join(dir, 'deep', 'er', 'config');
    await mergeKubeconfig(file, entry);
    const kc = parse(await readFile(file, 'utf8'));
    assert.equal(kc.apiVersion, 'v1');
    assert.equal(kc.kind, 'Config');
    assert.equal(kc['current-context'], 'skiff-a');
    assert.deepEqual(parse(renderKubeconfig(entry)), { ...kc, preferences: {} });
    assert.equal(await removeFromKubeconfig(path.join(dir, 'absent'), 'skiff-a'), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a broken kubeconfig is reported, not overwritten', async () => {
  const dir = await tmp();
  try {
    const file = path.join(dir, 'config');
    await writeFile(file, 'clusters: [\n');
    await assert.rejects(mergeKubeconfig(file, entry), (e: Error) => e instanceof KubeconfigError && /is not valid YAML/.test(e.message));
    assert.equal(await readFile(file, 'utf8'), 'clusters: [\n');
    await writeFile(file, 'clusters: 3\n');
    await assert.rejects(mergeKubeconfig(file, entry), /kubeconfig field "clusters" is not a list/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
