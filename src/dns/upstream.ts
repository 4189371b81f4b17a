// Forwarding names outside the cluster to the host's resolvers, as CoreDNS's `forward . /etc/resolv.conf`:
// each query goes out on its own ephemeral UDP socket (a fresh port per query, so replies cannot
// be confused or spoofed by id alone), over TCP when the client used TCP or the UDP reply came back
// truncated; each upstream is tried in turn, and the caller answers SERVFAIL when all fail.
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';

export interface Upstream {
  host: string;
  port: number;
}

/** "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" → host and port (53 by default). */
export function parseHostPort(s: string): Upstream | undefined {
  const t = s.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) return net.isIPv6(bracket[1]) ? { host: bracket[1], port: bracket[2] ? Number(bracket[2]) : 53 } : undefined;
  if (net.isIP(t)) return { host: t, port: 53 };
  const hp = /^([^:]+):(\d+)$/.exec(t);
  if (hp && net.isIPv4(hp[1])) return { host: hp[1], port: Number(hp[2]) };
  return undefined;
}

/** The `nameserver` lines of a resolv.conf (a missing file means none). Zone ids (fe80::1%eth0) are kept. */
export function resolvConfNameservers(file = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && net.isIP(m[1].split('%')[0])) out.push(m[1]);
  }
  return out;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Per upstream and attempt. Default 2000 ms. */
  timeoutMs?: number;
  /** Queries forwarded at once; past this the caller answers SERVFAIL. Default 512. */
  maxInFlight?: number;
}

const TC_BIT = 0x02; // in the third header byte

export class Forwarder {
  private inFlight = 0;
  /** One per query under way: settles it and closes its socket. */
  private aborts = new Set<() => void>();
  private closed = false;
  readonly upstreams: Upstream[];
  private timeoutMs: number;
  private maxInFlight: number;

  constructor(opts: ForwarderOptions) {
    this.upstreams = opts.upstreams;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 512;
  }

  /** The upstream's reply to a raw query (same id), or undefined when every upstream failed. */
  async forward(query: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    if (this.closed || this.upstreams.length === 0 || this.inFlight >= this.maxInFlight || query.length < 12) return undefined;
    this.inFlight++;
    try {
      for (const up of this.upstreams) {
        if (this.closed) return undefined;
        try {
          if (!tcp) {
            const reply = await this.udp(up, query);
            if ((reply[2] & TC_BIT) === 0) return reply;
          }
          return await this.tcp(up, query);
        } catch {
          // try the next upstream
        }
      }
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  /** Stop every query under way (they resolve to undefined) and refuse new ones. */
  close(): void {
    this.closed = true;
    for (const abort of [...this.aborts]) abort();
  }

  private udp(up: Upstream, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket(net.isIPv6(up.host.split('%')[0]) ? 'udp6' : 'udp4');
      let done = false;
      const finish = (err: Error | undefined, reply?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.aborts.delete(abort);
        sock.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      const abort = () => finish(new Error('forwarder closed'));
      this.aborts.add(abort);
      const timer = setTimeout(() => finish(new Error(`upstream ${up.host}:${up.port} timed out`)), this.timeoutMs);
      sock.on('error', (e) => finish(e));
      sock.on('message', (msg, rinfo) => {
        // Only a reply from the upstream to this query counts; anything else is ignored.
        if (msg.length < 12 || msg[0] !== query[0] || msg[1] !== query[1] || rinfo.port !== up.port) return;
        finish(undefined, msg);
      });
      sock.connect(up.port, up.host, () => sock.send(query, (e) => e && finish(e)));
    });
  }

  private tcp(up: Upstream, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: up.host, port: up.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (err: Error | undefined, reply?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.aborts.delete(abort);
        sock.destroy();
        if (err) reject(err);
        else resolve(reply!);
      };
      const abort = () => finish(new Error('forwarder closed'));
      this.aborts.add(abort);
      const timer = setTimeout(() => finish(new Error(`upstream ${up.host}:${up.port} timed out`)), this.timeoutMs);
      sock.on('error', (e) => finish(e));
      sock.on('close', () => finish(new Error('connection closed before a reply')));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2) {
          const n = buf.readUInt16BE(0);
          if (buf.length < 2 + n) return;
          const msg = buf.subarray(2, 2 + n);
          buf = buf.subarray(2 + n);
          if (msg.length >= 12 && msg[0] === query[0] && msg[1] === query[1]) return finish(undefined, Buffer.from(msg));
        }
      });
    });
  }
}
