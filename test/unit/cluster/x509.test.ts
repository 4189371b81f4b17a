// src/cluster/x509.ts, the DER writer behind the cluster's certificates, checked against what
// node:crypto (OpenSSL) and the openssl tool read back. pki.test.ts covers the cluster PKI itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCa, issueClientCert, issueServingCert } from '../../../src/cluster/pki.js';
import { createCertificate, KeyUsage, subjectOf } from '../../../src/cluster/x509.js';

test('IPv4 and every IPv6 spelling in SANs', async () => {
  const ca = await createCa('sans');
  const ips = ['10.0.0.1', '::1', '::', 'fe80::1', '2001:db8::8a2e:370:7334', '2001:db8:0:0:1:0:0:1', '::ffff:192.0.2.128', '1:2:3:4:5:6:7:8'];
  const cert = new X509Certificate((await issueServingCert({ ca }, 'x', [...ips, 'a.example', 'localhost'])).cert);
  for (const ip of ips) assert.ok(cert.checkIP(ip), `${ip} in ${cert.subjectAltName}`);
  assert.equal(cert.checkHost('a.example'), 'a.example');
  assert.equal(cert.checkIP('10.0.0.2'), undefined);
});

test('names outside PrintableString are UTF8String; many groups are one RDN each', async () => {
  const ca = await createCa('Zürich CA');
  assert.equal(new X509Certificate(ca.cert).subject, 'CN=Zürich CA');
  const groups = Array.from({ length: 12 }, (_, i) => `group_${i}@x`);
  const client = new X509Certificate((await issueClientCert({ ca }, 'user*1', groups)).cert);
  assert.equal(client.subject, ['CN=user*1', ...groups.map((g) => `O=${g}`)].join('\n'));
  assert.ok(client.checkIssued(new X509Certificate(ca.cert)));
  assert.ok(client.verify(new X509Certificate(ca.cert).publicKey));
});

test('validity: UTCTime through 2049, GeneralizedTime from 2050', () => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const notBefore = new Date('2049-12-31T23:59:59Z');
  const notAfter = new Date('2050-01-01T00:00:01Z');
  const pem = createCertificate({
    serial: Buffer.from([0x80, 0, 1]), // top bit set: needs a leading zero to stay positive
    subject: { cn: 'time' }, issuer: { cn: 'time' }, notBefore, notAfter,
    publicKey: keys.publicKey, signingKey: keys.privateKey, ca: true, keyUsage: [KeyUsage.keyCertSign],
  });
  const cert = new X509Certificate(pem);
  assert.equal(Date.parse(cert.validFrom), notBefore.getTime());
  assert.equal(Date.parse(cert.validTo), notAfter.getTime());
  assert.equal(cert.serialNumber, '800001');
  assert.ok(cert.verify(keys.publicKey));
});

test('a CA made elsewhere (openssl) issues through it: the issuer is its subject byte for byte', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-x509-'));
  try {
    const key = path.join(dir, 'ca.key');
    const crt = path.join(dir, 'ca.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt,
      '-days', '1', '-subj', '/O=Other Org/CN=Other CA', '-utf8'], { stdio: 'ignore', timeout: 30_000 });
    const ca = { cert: await readFile(crt, 'utf8'), key: await readFile(key, 'utf8') };
    // openssl -utf8 encodes "Other CA" as a UTF8String, where x509.ts would use a PrintableString:
    // the issuer must keep openssl's bytes (Go matches issuer to subject byte for byte).
    const subject = subjectOf(ca.cert);
    assert.ok(subject.includes(Buffer.concat([Buffer.from([0x0c, 8]), Buffer.from('Other CA')])), subject.toString('hex'));
    const leaf = await issueServingCert({ ca }, 'leaf', ['127.0.0.1']);
    assert.ok(new X509Certificate(leaf.cert).raw.includes(subject));
    const leafFile = path.join(dir, 'leaf.crt');
    await writeFile(leafFile, leaf.cert);
    assert.equal(execFileSync('openssl', ['verify', '-CAfile', crt, leafFile], { encoding: 'utf8' }).trim(), `${leafFile}: OK`);
    assert.equal(new X509Certificate(leaf.cert).issuer, 'O=Other Org\nCN=Other CA');
    const text = execFileSync('openssl', ['x509', '-in', leafFile, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication/);
    const ski = /X509v3 Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(execFileSync('openssl', ['x509', '-in', crt, '-noout', '-text'], { encoding: 'utf8' }))![1];
    assert.match(text, new RegExp(`X509v3 Authority Key Identifier: \\n\\s+(keyid:)?${ski}`), 'the AKI is the CA key id (SHA-1 of its key, as openssl computes it)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
