import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createClusterPki, issueClientCert, issueServingCert, loadPki, savePki } from '../../../src/cluster/pki.js';

const pki = await createClusterPki({ name: 'pki-test', sans: ['10.1.2.3', 'api.example.test', '127.96.0.1'] });

function sans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^IP Address:/, '').replace(/^DNS:/, ''));
}

test('the CA is a self-signed, 10-year CA named skiff-ca', () => {
  const ca = new X509Certificate(pki.ca.cert);
  assert.equal(ca.subject, 'CN=skiff-ca');
  assert.equal(ca.ca, true);
  assert.ok(ca.verify(ca.publicKey));
  const years = (Date.parse(ca.validTo) - Date.now()) / (365 * 24 * 3600 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `CA validity ${years} years`);
});

test('the API serving certificate chains to the CA and carries every required SAN', () => {
  const ca = new X509Certificate(pki.ca.cert);
  const cert = new X509Certificate(pki.apiServer.cert);
  assert.ok(cert.checkIssued(ca));
  assert.ok(cert.verify(ca.publicKey));
  assert.equal(cert.ca, false);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']); // serverAuth
  for (const name of ['127.0.0.1', '0:0:0:0:0:0:0:1', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local', '127.96.0.1', '10.1.2.3', 'api.example.test']) {
    assert.ok(sans(cert).includes(name), `SAN ${name} missing from ${cert.subjectAltName}`);
  }
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(cert.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
  assert.equal(tls.checkServerIdentity('localhost', { subjectaltname: cert.subjectAltName } as tls.PeerCertificate), undefined);
});

test('the admin client certificate is CN=kubernetes-admin, O=system:masters, clientAuth, signed by the CA', () => {
  const cert = new X509Certificate(pki.admin.cert);
  assert.equal(cert.subject, 'CN=kubernetes-admin\nO=system:masters');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.ok(cert.verify(new X509Certificate(pki.ca.cert).publicKey));
  assert.match(pki.adminToken, /^[A-Za-z0-9_-]{40,}$/);
  assert.match(pki.serviceAccount.publicKey, /BEGIN PUBLIC KEY/);
  assert.match(pki.serviceAccount.privateKey, /BEGIN PRIVATE KEY/);
});

test('issueClientCert and issueServingCert produce certificates the CA verifies', async () => {
  const node = await issueClientCert(pki, 'system:node:skiff-worker', ['system:nodes', 'system:authenticated']);
  const cert = new X509Certificate(node.cert);
  assert.equal(cert.subject, 'CN=system:node:skiff-worker\nO=system:nodes\nO=system:authenticated');
  assert.ok(cert.verify(new X509Certificate(pki.ca.cert).publicKey));
  const serving = new X509Certificate((await issueServingCert(pki, 'kubelet', ['127.0.0.5', 'skiff-worker'])).cert);
  assert.equal(serving.checkIP('127.0.0.5'), '127.0.0.5');
  assert.equal(serving.checkHost('skiff-worker'), 'skiff-worker');
});

test('savePki writes 0600 files and loadPki reads back the same material', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-pki-'));
  try {
    await savePki(path.join(dir, 'pki'), pki);
    for (const f of ['ca.crt', 'ca.key', 'apiserver.crt', 'apiserver.key', 'admin.crt', 'admin.key', 'admin.token', 'sa.pub', 'sa.key']) {
      assert.equal((await stat(path.join(dir, 'pki', f))).mode & 0o777, 0o600, f);
    }
    assert.deepEqual(await loadPki(path.join(dir, 'pki')), pki);
    await rm(path.join(dir, 'pki', 'ca.key'));
    await assert.rejects(loadPki(path.join(dir, 'pki')), /cluster certificates are incomplete: cannot read .*ca\.key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
