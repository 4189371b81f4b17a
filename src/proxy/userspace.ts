// The portable data plane: a socket per frontend (cluster IP:port, node IP:nodePort, LB IP:port)
// that relays to a backend chosen by the service port's Balancer.
//
//  TCP — the client is held paused until the backend connects (a refused backend is retried on
//        another, as upstream's userspace proxier did), then bytes are piped both ways with
//        half-close kept. No usable backend: the connection is reset at once.
//  UDP — one session per client address (its own socket connected to the chosen backend), kept
//        while traffic flows and closed after `udpIdleTimeoutMs` of silence; a session whose
//        backend left the service is closed and the next datagram picks again (upstream clears
//        UDP conntrack entries of removed endpoints for the same reason). No backend: dropped.
//
// Existing TCP connections to a removed endpoint are left to finish; new ones never go there.
import net from 'node:net';
import dgram from 'node:dgram';
import { Balancer } from './balancer.js';
import { frontendKey, frontendsOf, type Endpoint, type Frontend, type ProxyServicePort } from './model.js';

export interface UserspaceOptions {
  log?: (line: string) => void;
  /** UDP session idle expiry (default 30 s, upstream's UDP conntrack timeout for replied flows is similar). */
  udpIdleTimeoutMs?: number;
  /** Cap on UDP sessions per frontend (oldest evicted). Default 4096. */
  maxUdpSessions?: number;
  /** Backend connect attempts per client connection (default 3). */
  connectAttempts?: number;
}

interface UdpSession {
  sock: dgram.Socket;
  ep: Endpoint;
  timer: NodeJS.Timeout;
}

interface Listener {
  frontend: Frontend;
  spKey: string;
  tcp?: net.Server;
  udp?: dgram.Socket;
  conns: Set<net.Socket>;
  sessions: Map<string, UdpSession>;
  closed: boolean;
}

export interface UserspaceStats {
  listeners: string[];
  connections: number;
  udpSessions: number;
}

export class UserspaceProxy {
  private log: (line: string) => void;
  private udpIdleMs: number;
  private maxSessions: number;
  private attempts: number;
  private balancers = new Map<string, Balancer>();
  private ports = new Map<string, ProxyServicePort>();
  private listeners = new Map<string, Listener>();
  private stopped = false;

  constructor(opts: UserspaceOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.udpIdleMs = opts.udpIdleTimeoutMs ?? 30_000;
    this.maxSessions = opts.maxUdpSessions ?? 4096;
    this.attempts = opts.connectAttempts ?? 3;
  }

  /** The balancer of a service port (tests, diagnostics). */
  balancer(spKey: string): Balancer | undefined {
    return this.balancers.get(spKey);
  }

  stats(): UserspaceStats {
    let connections = 0;
    let udpSessions = 0;
    for (const l of this.listeners.values()) {
      connections += l.conns.size;
      udpSessions += l.sessions.size;
    }
    return { listeners: [...this.listeners.keys()].sort(), connections, udpSessions };
  }

  /**
   * Makes the listeners and balancers match `ports`. Resolves once every new listener is bound or
   * has failed; returns the frontends that could not be bound (the caller retries later).
   */
  async apply(ports: readonly ProxyServicePort[], nodeIPs: readonly string[]): Promise<string[]> {
    if (this.stopped) return [];
    const desired = new Map<string, { f: Frontend; spKey: string }>();
    const nextPorts = new Map<string, ProxyServicePort>();
    for (const sp of ports) {
      nextPorts.set(sp.key, sp);
      for (const f of frontendsOf(sp, nodeIPs)) {
        const k = frontendKey(f);
        if (!desired.has(k)) desired.set(k, { f, spKey: sp.key });
      }
    }
    // Balancers first: a connection accepted from here on sees the new endpoints.
    for (const [key, sp] of nextPorts) {
      let b = this.balancers.get(key);
      if (!b) this.balancers.set(key, (b = new Balancer(sp.algorithm, sp.affinityTimeoutS)));
      b.configure(sp.algorithm, sp.affinityTimeoutS);
      b.setEndpoints(sp.endpoints);
    }
    for (const key of this.balancers.keys()) if (!nextPorts.has(key)) this.balancers.delete(key);
    this.ports = nextPorts;
    // Sessions whose backend left the service.
    for (const l of this.listeners.values()) {
      const b = this.balancers.get(l.spKey);
      for (const [ck, s] of l.sessions) if (!b || !b.has(s.ep)) this.endSession(l, ck, s);
    }
    for (const [k, l] of this.listeners) {
      const d = desired.get(k);
      if (!d) {
        this.closeListener(l, false);
        this.listeners.delete(k);
      } else l.spKey = d.spKey;
    }
    const failed: string[] = [];
    await Promise.all(
      [...desired].map(async ([k, d]) => {
        if (this.listeners.has(k)) return;
        const l: Listener = { frontend: d.f, spKey: d.spKey, conns: new Set(), sessions: new Map(), closed: false };
        this.listeners.set(k, l);
        try {
          await (d.f.protocol === 'TCP' ? this.bindTcp(l) : this.bindUdp(l));
        } catch (e) {
          if (this.listeners.get(k) === l) this.listeners.delete(k);
          this.closeListener(l, true);
          failed.push(k);
          this.log(`proxy: cannot listen on ${k} (${d.spKey}): ${(e as Error).message}`);
        }
      }),
    );
    return failed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => this.closeListener(l, true)));
    this.balancers.clear();
  }

  // --- TCP ------------------------------------------------------------------------------------

  private bindTcp(l: Listener): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => this.onTcp(l, c));
    l.tcp = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.frontend.ip, port: l.frontend.port, exclusive: true, backlog: 1024 }, () => {
        server.off('error', reject);
        server.on('error', (e) => this.log(`proxy: ${frontendKey(l.frontend)}: ${e.message}`));
        resolve();
      });
    });
  }

  private onTcp(l: Listener, client: net.Socket): void {
    if (l.closed) {
      client.destroy();
      return;
    }
    l.conns.add(client);
    client.on('error', () => {});
    client.once('close', () => l.conns.delete(client));
    const ctx = { clientIP: client.remoteAddress ?? '', destIP: l.frontend.ip };
    const tried = new Set<string>();
    const attempt = (left: number) => {
      const b = this.balancers.get(l.spKey);
      let ep = b?.pick(ctx);
      // After a refusal, prefer a backend not tried yet.
      if (ep && tried.has(`${ep.ip}:${ep.port}`) && b) {
        for (let i = 0; i < b.size && ep && tried.has(`${ep.ip}:${ep.port}`); i++) ep = b.pick(ctx);
      }
      if (!b || !ep || client.destroyed) {
        reset(client);
        return;
      }
      tried.add(`${ep.ip}:${ep.port}`);
      const target = ep;
      const up = net.connect({ host: target.ip, port: target.port, allowHalfOpen: true, noDelay: true });
      b.acquire(target);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.balancers.get(l.spKey)?.release(target);
      };
      let connected = false;
      up.once('connect', () => {
        connected = true;
        if (client.destroyed) {
          up.destroy();
          return;
        }
        up.pipe(client);
        client.pipe(up);
        client.resume();
      });
      up.on('error', () => {
        if (!connected && left > 1 && !client.destroyed) {
          release();
          attempt(left - 1);
          return;
        }
        if (!connected) reset(client);
        else client.destroy();
      });
      up.once('close', () => {
        release();
        if (connected) {
          // The backend went away: end the client once its buffered data is flushed.
          if (!client.destroyed) client.end();
          setTimeout(() => client.destroy(), 1000).unref();
        }
      });
      client.once('close', () => {
        if (!up.destroyed) up.destroy();
      });
    };
    attempt(Math.max(1, this.attempts));
  }

  // --- UDP ------------------------------------------------------------------------------------

  private bindUdp(l: Listener): Promise<void> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    l.udp = sock;
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: l.frontend.ip, port: l.frontend.port, exclusive: true }, () => {
        sock.off('error', reject);
        sock.on('error', (e) => this.log(`proxy: ${frontendKey(l.frontend)}: ${e.message}`));
        sock.on('message', (msg, rinfo) => this.onDatagram(l, msg, rinfo));
        resolve();
      });
    });
  }

  private onDatagram(l: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (l.closed) return;
    const ck = `${rinfo.address}:${rinfo.port}`;
    const b = this.balancers.get(l.spKey);
    let s = l.sessions.get(ck);
    if (s && (!b || !b.has(s.ep))) {
      this.endSession(l, ck, s);
      s = undefined;
    }
    if (!s) {
      const ep = b?.pick({ clientIP: rinfo.address, destIP: l.frontend.ip });
      if (!b || !ep) return; // nowhere to send it
      if (l.sessions.size >= this.maxSessions) {
        const [oldKey, old] = l.sessions.entries().next().value as [string, UdpSession];
        this.endSession(l, oldKey, old);
      }
      const sock = dgram.createSocket('udp4');
      const session: UdpSession = { sock, ep, timer: setTimeout(() => this.endSession(l, ck, session), this.udpIdleMs) };
      session.timer.unref();
      s = session;
      l.sessions.set(ck, session);
      b.acquire(ep);
      sock.on('error', () => this.endSession(l, ck, session));
      sock.on('message', (reply) => {
        if (l.closed || !l.udp) return;
        this.touch(l, ck, session);
        l.udp.send(reply, rinfo.port, rinfo.address);
      });
      sock.connect(ep.port, ep.ip);
    }
    const session = s;
    this.touch(l, ck, session);
    const send = () => session.sock.send(msg, (err) => err && this.endSession(l, ck, session));
    // A freshly created socket is connecting; send() before 'connect' throws ERR_SOCKET_DGRAM_NOT_CONNECTED.
    try {
      session.sock.remoteAddress();
      send();
    } catch {
      session.sock.once('connect', send);
    }
  }

  private touch(l: Listener, ck: string, s: UdpSession): void {
    if (l.sessions.get(ck) !== s) return;
    s.timer.refresh();
  }

  private endSession(l: Listener, ck: string, s: UdpSession): void {
    if (l.sessions.get(ck) !== s) return;
    l.sessions.delete(ck);
    clearTimeout(s.timer);
    try {
      s.sock.close();
    } catch {
      // already closed
    }
    this.balancers.get(l.spKey)?.release(s.ep);
  }

  // --- shared ---------------------------------------------------------------------------------

  /** Stops accepting; `dropAll` also ends the connections and sessions in flight. */
  private closeListener(l: Listener, dropAll: boolean): Promise<void> {
    l.closed = true;
    for (const [ck, s] of l.sessions) this.endSession(l, ck, s);
    if (dropAll) for (const c of l.conns) c.destroy();
    return new Promise((resolve) => {
      if (l.tcp) {
        const srv = l.tcp;
        if (srv.listening) srv.close(() => resolve());
        else resolve();
      } else if (l.udp) {
        try {
          l.udp.close(() => resolve());
        } catch {
          resolve();
        }
      } else resolve();
    });
  }
}

function reset(s: net.Socket): void {
  if (s.destroyed) return;
  if (typeof s.resetAndDestroy === 'function') {
    try {
      s.resetAndDestroy();
      return;
    } catch {
      // not connected any more
    }
  }
  s.destroy();
}
