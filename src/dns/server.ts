// Cluster DNS (the job CoreDNS does in a cluster): answers the cluster domain from a live view of
// Services and EndpointSlices (zone.ts) and forwards everything else to the host's resolvers
// (upstream.ts), over UDP and TCP on one port. Packets are parsed with dns-packet; anything that
// does not parse as a query is dropped, never answered, so junk cannot crash or amplify.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type Question, type RecordType } from 'dns-packet';
import { R, type ApiClient } from '../client/client.js';
import { Informer } from '../client/informer.js';
import { ClusterZone, RCODE, type ZoneAnswer } from './zone.js';
import { Forwarder, parseHostPort, resolvConfNameservers, type Upstream } from './upstream.js';

export interface ClusterDnsOptions {
  /** Address to serve on (both UDP and TCP). */
  host: string;
  /** 53, or 0 for any free port (tests). */
  port: number;
  clusterDomain?: string;
  /** Resolvers for names outside the cluster ("ip" or "ip:port"). Default: /etc/resolv.conf's nameservers, minus this server. */
  upstream?: string[];
  /** Per upstream attempt. Default 2000 ms. */
  upstreamTimeoutMs?: number;
  log?: (line: string) => void;
}

/** A reply carries the opcode of its query. */
const OPCODE_MASK = 0x7800;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
/** What we advertise and accept over UDP with EDNS0 (the DNS flag day 2020 size). */
const EDNS_UDP_SIZE = 1232;
const MAX_TCP_CONNECTIONS = 256;
const TCP_IDLE_MS = 10_000;
const BIND_ATTEMPTS = 20;

export class ClusterDns {
  readonly zone: ClusterZone;
  private services: Informer;
  private slices: Informer;
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private conns = new Set<net.Socket>();
  private forwarder?: Forwarder;
  private stopped = false;
  private log: (line: string) => void;

  constructor(
    client: ApiClient,
    private opts: ClusterDnsOptions,
  ) {
    this.zone = new ClusterZone(opts.clusterDomain ?? 'cluster.local');
    this.log = opts.log ?? (() => {});
    this.services = new Informer(client, R.services).on({
      onAdd: (o) => this.zone.setService(o),
      onUpdate: (o) => this.zone.setService(o),
      onDelete: (o) => this.zone.deleteService(o),
    });
    this.slices = new Informer(client, R.endpointslices).on({
      onAdd: (o) => this.zone.setSlice(o),
      onUpdate: (o) => this.zone.setSlice(o),
      onDelete: (o) => this.zone.deleteSlice(o),
    });
  }

  /** Syncs the informers, then serves; resolves to the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    let port: number;
    try {
      await Promise.all([this.services.start(), this.slices.start()]);
      port = await this.bind();
    } catch (e) {
      this.services.stop();
      this.slices.stop();
      throw e;
    }
    this.forwarder = new Forwarder({ upstreams: this.upstreams(port), timeoutMs: this.opts.upstreamTimeoutMs });
    if (this.forwarder.upstreams.length === 0) this.log('dns: no upstream resolver; names outside the cluster get SERVFAIL');
    return { host: this.opts.host, port };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.services.stop();
    this.slices.stop();
    this.forwarder?.close();
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
    this.udp = this.tcp = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Sockets

  /** UDP and TCP on one port; with port 0 the UDP port is chosen first and TCP retried until both fit. */
  private async bind(): Promise<number> {
    let lastErr: unknown;
    for (let i = 0; i < BIND_ATTEMPTS; i++) {
      const udp = dgram.createSocket({ type: net.isIPv6(this.opts.host) ? 'udp6' : 'udp4' });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(this.opts.port, this.opts.host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        throw e;
      }
      const port = udp.address().port;
      const tcp = net.createServer((s) => this.onConnection(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port, host: this.opts.host, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        lastErr = e;
        udp.close();
        if (this.opts.port !== 0) throw e;
        continue;
      }
      udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
      udp.on('error', (e) => this.log(`dns: udp: ${e.message}`));
      tcp.on('error', (e) => this.log(`dns: tcp: ${e.message}`));
      this.udp = udp;
      this.tcp = tcp;
      return port;
    }
    throw lastErr instanceof Error ? lastErr : new Error('cannot bind the DNS port');
  }

  private upstreams(port: number): Upstream[] {
    const list = (this.opts.upstream ?? resolvConfNameservers()).map((s) => parseHostPort(s)).filter((u): u is Upstream => u !== undefined);
    // Never forward to ourselves: resolv.conf may point at this very server.
    const anyAddr = this.opts.host === '0.0.0.0' || this.opts.host === '::';
    return list.filter((u) => !(u.port === port && (u.host === this.opts.host || (anyAddr && (u.host.startsWith('127.') || u.host === '::1')))));
  }

  private onDatagram(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.answer(msg, false)
      .then((reply) => {
        if (reply && !this.stopped) sock.send(reply, rinfo.port, rinfo.address, (e) => e && this.log(`dns: send to ${rinfo.address}: ${e.message}`));
      })
      .catch((e) => this.log(`dns: ${(e as Error).message}`));
  }

  private onConnection(sock: net.Socket): void {
    if (this.stopped || this.conns.size >= MAX_TCP_CONNECTIONS) {
      sock.destroy();
      return;
    }
    this.conns.add(sock);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) break;
        const msg = Buffer.from(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
        this.answer(msg, true)
          .then((reply) => {
            if (!reply) return sock.destroy(); // a malformed message ends the connection
            if (sock.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(reply.length);
            sock.write(Buffer.concat([len, reply]));
          })
          .catch(() => sock.destroy());
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  /** The reply to one wire message, or undefined to drop it. */
  async answer(msg: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    if (q.flag_qr || q.type !== 'query') return undefined; // never answer a response
    const edns = (q.additionals ?? []).find((a): a is OptAnswer => a.type === 'OPT');
    const limit = tcp ? 65535 : edns ? Math.max(512, Math.min(edns.udpPayloadSize, 65535)) : 512;
    const questions = q.questions ?? [];
    const opcode = (q as DecodedPacket & { opcode?: string }).opcode;
    if (opcode !== 'QUERY') return this.reply(q, { rcode: RCODE.NOTIMP }, limit);
    if (questions.length !== 1) return this.reply(q, { rcode: RCODE.FORMERR }, limit);
    const question = questions[0];
    if (edns && edns.ednsVersion !== 0) return this.reply(q, { rcode: 16 /* BADVERS */ }, limit);

    let zoneAnswer: ZoneAnswer | undefined;
    try {
      zoneAnswer = this.classOk(question) ? this.zone.resolve(question.name, question.type as RecordType) : undefined;
    } catch (e) {
      this.log(`dns: ${question.name} ${question.type}: ${(e as Error).message}`);
      return this.reply(q, { rcode: RCODE.SERVFAIL }, limit);
    }
    if (!zoneAnswer) {
      if (this.zone.inZone(question.name.toLowerCase().replace(/\.$/, ''))) return this.reply(q, { rcode: RCODE.REFUSED }, limit); // a non-IN class in our zone
      const upstream = await this.forwarder?.forward(msg, tcp);
      if (!upstream) return this.reply(q, { rcode: RCODE.SERVFAIL }, limit);
      return upstream.length <= limit ? upstream : this.truncated(q, upstream[3] & 0x0f, limit);
    }
    if (zoneAnswer.chase) await this.chase(zoneAnswer, tcp);
    return this.reply(q, { ...zoneAnswer, authoritative: true }, limit);
  }

  private classOk(question: Question): boolean {
    return question.class === undefined || question.class === 'IN' || question.class === 'ANY';
  }

  /** Follow an ExternalName CNAME out of the cluster; if upstream fails, the CNAME alone is still a fine answer. */
  private async chase(a: ZoneAnswer, tcp: boolean): Promise<void> {
    const { name, type } = a.chase!;
    const reply = await this.forwarder?.forward(dnsPacket.encode({ type: 'query', id: Math.floor(Math.random() * 65536), flags: FLAG_RD, questions: [{ name, type }] }), tcp);
    if (!reply) return;
    try {
      const r = dnsPacket.decode(reply);
      a.answers.push(...(r.answers ?? []));
      a.rcode = (reply[3] & 0x0f) === RCODE.NXDOMAIN ? RCODE.NXDOMAIN : a.rcode;
    } catch {
      // an unreadable upstream reply: keep the CNAME
    }
  }

  private reply(q: DecodedPacket, a: Partial<ZoneAnswer> & { rcode: number; authoritative?: boolean }, limit: number): Buffer {
    const out: Packet = {
      type: 'response',
      id: q.id ?? 0,
      flags: ((q.flags ?? 0) & OPCODE_MASK) | (a.authoritative ? FLAG_AA : 0) | (q.flag_rd ? FLAG_RD : 0) | FLAG_RA | (a.rcode & 0x0f),
      questions: q.questions ?? [],
      answers: a.answers ?? [],
      authorities: a.authorities ?? [],
      additionals: [...(a.additionals ?? [])],
    };
    const hasEdns = (q.additionals ?? []).some((x) => x.type === 'OPT');
    if (hasEdns) out.additionals!.push(this.opt(a.rcode));
    let buf: Buffer;
    try {
      buf = dnsPacket.encode(out);
    } catch (e) {
      // Records we cannot encode (an ExternalName that is no valid name...): fail this answer only.
      this.log(`dns: encoding the answer to ${q.questions?.[0]?.name}: ${(e as Error).message}`);
      return this.encodeHeaderOnly(q, RCODE.SERVFAIL, hasEdns, 0);
    }
    if (buf.length <= limit) return buf;
    // Too big for this transport: drop additionals first (glue is optional), then signal truncation.
    out.additionals = hasEdns ? [this.opt(a.rcode)] : [];
    buf = dnsPacket.encode(out);
    return buf.length <= limit ? buf : this.truncated(q, a.rcode, limit, a.authoritative);
  }

  /** Header and question only, with TC set: the client retries over TCP. */
  private truncated(q: DecodedPacket, rcode: number, limit: number, authoritative = false): Buffer {
    const hasEdns = (q.additionals ?? []).some((x) => x.type === 'OPT');
    const buf = this.encodeHeaderOnly(q, rcode, hasEdns, FLAG_TC | (authoritative ? FLAG_AA : 0));
    return buf.length <= limit ? buf : this.encodeHeaderOnly({ ...q, questions: [] }, rcode, false, FLAG_TC);
  }

  private encodeHeaderOnly(q: DecodedPacket, rcode: number, edns: boolean, extraFlags: number): Buffer {
    return dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: ((q.flags ?? 0) & OPCODE_MASK) | extraFlags | (q.flag_rd ? FLAG_RD : 0) | FLAG_RA | (rcode & 0x0f),
      questions: q.questions ?? [],
      additionals: edns ? [this.opt(rcode)] : [],
    });
  }

  /** Our OPT record; rcodes above 15 put their high bits in its extended-rcode field. */
  private opt(rcode: number): Answer {
    const opt: OptAnswer = { name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: rcode >> 4, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    return opt;
  }
}
