// Just enough X.509 (RFC 5280) to issue the cluster's certificates with node:crypto: a DER writer
// and the v3 certificate with the extensions a CA, a TLS server and a TLS client certificate need.
// ECDSA P-256 with SHA-256 throughout. (A general-purpose X.509 library costs far more to load than
// issuing every certificate of a cluster takes.)
import { createHash, sign, X509Certificate, type KeyObject } from 'node:crypto';
import net from 'node:net';

// ---- DER ----

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
/** [n] EXPLICIT (constructed, context-specific). */
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian bytes, minimally encoded. */
function uint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const group = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) group.unshift(0x80 | (v & 0x7f));
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING of whole bytes. */
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

/** A named-bit BIT STRING (KeyUsage): bit 0 is the first byte's top bit; trailing zero bits are dropped. */
function namedBits(set: number[]): Buffer {
  const last = Math.max(...set);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of set) bytes[Math.floor(b / 8)] |= 0x80 >> b % 8;
  return tlv(0x03, Buffer.concat([Buffer.from([7 - (last % 8)]), bytes]));
}

/** String as PrintableString when it fits that alphabet (as Go and OpenSSL do), else UTF8String. */
function dirString(s: string): Buffer {
  return tlv(/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? 0x13 : 0x0c, Buffer.from(s, 'utf8'));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and a trailing dotted IPv4 part into eight 16-bit groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

// ---- certificates ----

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** A distinguished name: CN first, then one RDN per organization (Kubernetes reads O as groups). */
export interface Name {
  cn: string;
  o?: string[];
}

function name(n: Name): Buffer {
  const rdn = (type: string, value: string) => set(seq(oid(type), dirString(value)));
  return seq(rdn(OID.commonName, n.cn), ...(n.o ?? []).map((o) => rdn(OID.organization, o)));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the uncompressed EC point). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return createHash('sha1').update(point).digest();
}

export interface CertificateRequest {
  /** Positive serial number, big-endian bytes. */
  serial: Buffer;
  subject: Name;
  /** The issuer's subject as encoded in its certificate (subjectOf), or the subject itself when self-signed. */
  issuer: Name | Buffer;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** The issuer's key (the subject's own for a self-signed certificate). */
  signingKey: KeyObject;
  /** The issuer's public key, for the authority key identifier (omitted when self-signed). */
  issuerPublicKey?: KeyObject;
  ca: boolean;
  keyUsage: number[];
  extKeyUsage?: ('serverAuth' | 'clientAuth')[];
  /** IP addresses and DNS names. */
  sans?: string[];
}

/** A signed v3 certificate, PEM. */
export function createCertificate(r: CertificateRequest): string {
  const spki = r.publicKey.export({ type: 'spki', format: 'der' });
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const extensions = [
    extension(OID.basicConstraints, true, r.ca ? seq(bool(true)) : seq()),
    extension(OID.keyUsage, true, namedBits(r.keyUsage)),
    ...(r.extKeyUsage?.length ? [extension(OID.extKeyUsage, false, seq(...r.extKeyUsage.map((u) => oid(OID[u]))))] : []),
    ...(r.issuerPublicKey ? [extension(OID.authorityKeyId, false, seq(tlv(0x80, keyIdentifier(r.issuerPublicKey))))] : []),
    extension(OID.subjectKeyId, false, octets(keyIdentifier(r.publicKey))),
    ...(r.sans?.length
      ? [extension(OID.subjectAltName, false, seq(...r.sans.map((s) => (net.isIP(s) ? tlv(0x87, ipBytes(s)) : tlv(0x82, Buffer.from(s, 'ascii'))))))]
      : []),
  ];
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(r.serial),
    algorithm,
    Buffer.isBuffer(r.issuer) ? r.issuer : name(r.issuer),
    seq(time(r.notBefore), time(r.notAfter)),
    name(r.subject),
    spki,
    explicit(3, seq(...extensions)),
  );
  // node:crypto signs EC keys in DER (ECDSA-Sig-Value), as X.509 wants.
  const signature = sign('sha256', tbs, r.signingKey);
  const der = seq(tbs, algorithm, bits(signature));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The DER element (tag, length, content) at `at`: its content's offset and its end. */
function element(der: Buffer, at: number): { start: number; end: number } {
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  return { start, end: start + len };
}

/**
 * The subject of a certificate exactly as encoded (DER): what certificates it signs must carry as
 * their issuer, byte for byte, whoever encoded it.
 */
export function subjectOf(certPem: string): Buffer {
  const der = new X509Certificate(certPem).raw;
  const tbs = element(der, element(der, 0).start);
  let at = tbs.start;
  if (der[at] === 0xa0) at = element(der, at).end; // version
  for (let i = 0; i < 4; i++) at = element(der, at).end; // serial, signature, issuer, validity
  return der.subarray(at, element(der, at).end);
}
