// Container probes (liveness, readiness, startup) and lifecycle-hook actions, as upstream's
// pkg/kubelet/prober does them: exec through the runtime, tcpSocket (a connect), httpGet (2xx-3xx
// healthy; HTTPS without certificate checks), and grpc — grpc.health.v1.Health/Check over
// HTTP/2 cleartext (h2c) with node:http2; the request and response protobufs are tiny enough to
// encode by hand: HealthCheckRequest{string service = 1}, HealthCheckResponse{enum status = 1}
// where SERVING = 1.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { Writable } from 'node:stream';
import type { Runtime } from '../runtime/types.js';
import { asArr, asNum, asObj, asStr, type Obj } from '../../api/common/shape.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export interface ProbeResult {
  ok: boolean;
  message: string;
}

export interface ProbeTarget {
  runtime: Runtime;
  containerId: string;
  podIP: string;
  /** The container's spec (named ports). */
  container: Obj;
}

const KUBE_PROBE_UA = 'kube-probe/1.33';
const MAX_OUTPUT = 10 * 1024;

/** A port given as a number or as the name of one of the container's ports. */
export function resolvePort(port: unknown, container: Obj): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string') {
    if (/^\d+$/.test(port)) return Number(port);
    const p = asArr(container.ports)
      .map(asObj)
      .find((x) => x?.name === port);
    return asNum(p?.containerPort);
  }
  return undefined;
}

class Collector extends Writable {
  chunks: Buffer[] = [];
  size = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    if (this.size < MAX_OUTPUT) {
      this.chunks.push(Buffer.from(chunk));
      this.size += chunk.length;
    }
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8').slice(0, MAX_OUTPUT);
  }
}

export async function execAction(runtime: Runtime, containerId: string, command: string[], timeoutMs: number): Promise<ProbeResult> {
  const out = new Collector();
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  try {
    const code = await runtime.exec(containerId, command, { stdout: out, stderr: out, tty: false }, ac.signal);
    if (timedOut) return { ok: false, message: `command ${JSON.stringify(command.join(' '))} timed out` };
    return { ok: code === 0, message: out.text() };
  } catch (e) {
    if (timedOut) return { ok: false, message: `command ${JSON.stringify(command.join(' '))} timed out` };
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

export function tcpAction(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }), timeoutMs);
    sock.once('connect', () => done({ ok: true, message: '' }));
    sock.once('error', (e: NodeJS.ErrnoException) =>
      done({ ok: false, message: `dial tcp ${host}:${port}: connect: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}` }),
    );
  });
}

export function httpAction(get: Obj, podIP: string, container: Obj, timeoutMs: number): Promise<ProbeResult> {
  const scheme = (asStr(get.scheme) ?? 'HTTP').toLowerCase() === 'https' ? 'https' : 'http';
  const host = asStr(get.host) || podIP;
  const port = resolvePort(get.port, container) ?? (scheme === 'https' ? 443 : 80);
  let p = asStr(get.path) || '/';
  if (!p.startsWith('/')) p = '/' + p;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const url = `${scheme}://${hostPart}:${port}${p}`;
  const headers: Record<string, string> = { 'User-Agent': KUBE_PROBE_UA, Accept: '*/*' };
  for (const h of asArr(get.httpHeaders).map(asObj)) {
    const n = asStr(h?.name);
    if (n) headers[n] = asStr(h?.value) ?? '';
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const mod = scheme === 'https' ? https : http;
    const req = mod.request(url, { method: 'GET', headers, rejectUnauthorized: false, agent: false }, (res) => {
      const code = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < MAX_OUTPUT) body += d;
      });
      res.on('end', () => {
        if (code >= 200 && code < 400) finish({ ok: true, message: body });
        else finish({ ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      });
      res.on('error', (e) => finish({ ok: false, message: `Get "${url}": ${e.message}` }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, message: `Get "${url}": dial tcp ${hostPart}:${port}: connect: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}` }),
    );
    req.end();
  });
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** The gRPC message frame of a HealthCheckRequest. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const msg = s.length ? Buffer.concat([Buffer.from([0x0a, ...varint(s.length)]), s]) : Buffer.alloc(0);
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The status of a HealthCheckResponse frame (0 UNKNOWN when absent). */
export function decodeHealthCheckResponse(frame: Buffer): number {
  if (frame.length < 5) return 0;
  const len = frame.readUInt32BE(1);
  const msg = frame.subarray(5, 5 + len);
  let i = 0;
  let status = 0;
  while (i < msg.length) {
    let key = 0;
    let shift = 0;
    let b: number;
    do {
      b = msg[i++];
      key |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && i < msg.length);
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      let v = 0;
      let mul = 1;
      do {
        b = msg[i++];
        v += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80 && i < msg.length);
      if (field === 1) status = v;
    } else if (wire === 2) {
      let l = 0;
      let mul = 1;
      do {
        b = msg[i++];
        l += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80 && i < msg.length);
      i += l;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else break;
  }
  return status;
}

const HEALTH_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export function grpcAction(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeResult> {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return new Promise((resolve) => {
    let settled = false;
    let session: http2.ClientHttp2Session | undefined;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, message: `timeout: health rpc did not complete within ${Math.round(timeoutMs / 1000)}s` }),
      timeoutMs,
    );
    session = http2.connect(`http://${hostPart}:${port}`);
    session.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, message: `timeout: failed to connect service "${hostPart}:${port}" within ${Math.round(timeoutMs / 1000)}s: ${e.code ?? e.message}` }),
    );
    const req = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': KUBE_PROBE_UA,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) grpcMessage = String(h['grpc-message']);
    });
    req.on('trailers', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) grpcMessage = String(h['grpc-message']);
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', (e) => finish({ ok: false, message: `rpc error: ${e.message}` }));
    req.on('end', () => {
      if (grpcStatus !== undefined && grpcStatus !== '0') {
        finish({ ok: false, message: `rpc error: code = ${grpcStatus} desc = ${decodeURIComponent(grpcMessage)}` });
        return;
      }
      const st = decodeHealthCheckResponse(Buffer.concat(chunks));
      if (st === 1) finish({ ok: true, message: '' });
      else finish({ ok: false, message: `service unhealthy (responded with "${HEALTH_STATUS[st] ?? st}")` });
    });
    req.end(encodeHealthCheckRequest(service));
  });
}

/** Run one probe (or a hook handler of the same shape) once. */
export async function runHandler(handler: Obj, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const exec = asObj(handler.exec);
  if (exec) return execAction(target.runtime, target.containerId, asArr(exec.command).map(String), timeoutMs);
  const get = asObj(handler.httpGet);
  if (get) return httpAction(get, target.podIP, target.container, timeoutMs);
  const tcp = asObj(handler.tcpSocket);
  if (tcp) {
    const port = resolvePort(tcp.port, target.container);
    if (port === undefined) return { ok: false, message: `unknown port ${String(tcp.port)}` };
    return tcpAction(asStr(tcp.host) || target.podIP, port, timeoutMs);
  }
  const grpc = asObj(handler.grpc);
  if (grpc) return grpcAction(target.podIP, asNum(grpc.port) ?? 0, asStr(grpc.service) ?? '', timeoutMs);
  const sleep = asObj(handler.sleep);
  if (sleep) {
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, (asNum(sleep.seconds) ?? 0) * 1000)));
    return { ok: true, message: '' };
  }
  return { ok: false, message: 'missing probe handler' };
}

// ---------------------------------------------------------------------------------------------
// One container's probe workers

export interface ProberEvents {
  /** A result that matters changed (started, ready, liveness/startup failed): re-sync the pod. */
  changed(): void;
  /** A probe attempt failed (an `Unhealthy` Event). */
  failed(kind: ProbeKind, message: string): void;
}

interface Loop {
  kind: ProbeKind;
  probe: Obj;
  successes: number;
  failures: number;
  timer?: NodeJS.Timeout;
}

export class ContainerProber {
  started: boolean;
  ready = false;
  livenessFailed = false;
  startupFailed = false;
  private loops: Loop[] = [];
  private stopped = false;
  /** Milliseconds per probe second (initialDelaySeconds, periodSeconds); tests shorten it. */
  private secondMs: number;

  constructor(
    private target: ProbeTarget,
    private startedAtMs: number,
    private events: ProberEvents,
    opts: { ready?: boolean; started?: boolean; secondMs?: number } = {},
  ) {
    this.secondMs = opts.secondMs ?? 1000;
    const c = target.container;
    this.started = opts.started ?? !asObj(c.startupProbe);
    this.ready = opts.ready ?? false;
  }

  get hasReadinessProbe(): boolean {
    return !!asObj(this.target.container.readinessProbe);
  }

  get hasLivenessProbe(): boolean {
    return !!asObj(this.target.container.livenessProbe);
  }

  start(): void {
    const c = this.target.container;
    if (!this.started && asObj(c.startupProbe)) this.startLoop('startup', asObj(c.startupProbe)!);
    else this.startMain();
  }

  stop(): void {
    this.stopped = true;
    for (const l of this.loops) if (l.timer) clearTimeout(l.timer);
    this.loops = [];
  }

  private startMain(): void {
    const c = this.target.container;
    if (asObj(c.livenessProbe)) this.startLoop('liveness', asObj(c.livenessProbe)!);
    if (asObj(c.readinessProbe)) this.startLoop('readiness', asObj(c.readinessProbe)!);
  }

  private startLoop(kind: ProbeKind, probe: Obj): void {
    const loop: Loop = { kind, probe, successes: 0, failures: 0 };
    this.loops.push(loop);
    const initial = (asNum(probe.initialDelaySeconds) ?? 0) * this.secondMs;
    this.schedule(loop, Math.max(0, this.startedAtMs + initial - Date.now()));
  }

  private schedule(loop: Loop, ms: number): void {
    if (this.stopped) return;
    loop.timer = setTimeout(() => void this.tick(loop), ms);
    loop.timer.unref?.();
  }

  private endLoop(loop: Loop): void {
    if (loop.timer) clearTimeout(loop.timer);
    this.loops = this.loops.filter((l) => l !== loop);
  }

  private async tick(loop: Loop): Promise<void> {
    if (this.stopped || !this.loops.includes(loop)) return;
    const p = loop.probe;
    const began = Date.now();
    const timeoutMs = Math.max(1, asNum(p.timeoutSeconds) ?? 1) * 1000;
    let res: ProbeResult;
    try {
      res = await runHandler(p, this.target, timeoutMs);
    } catch (e) {
      res = { ok: false, message: e instanceof Error ? e.message : String(e) };
    }
    if (this.stopped || !this.loops.includes(loop)) return;
    const successThreshold = asNum(p.successThreshold) ?? 1;
    const failureThreshold = asNum(p.failureThreshold) ?? 3;
    if (res.ok) {
      loop.successes++;
      loop.failures = 0;
    } else {
      loop.failures++;
      loop.successes = 0;
      this.events.failed(loop.kind, res.message);
    }
    switch (loop.kind) {
      case 'startup':
        if (res.ok && loop.successes >= successThreshold) {
          this.started = true;
          this.endLoop(loop);
          this.startMain();
          this.events.changed();
          return;
        }
        if (!res.ok && loop.failures >= failureThreshold) {
          this.startupFailed = true;
          this.endLoop(loop);
          this.events.changed();
          return;
        }
        break;
      case 'liveness':
        if (!res.ok && loop.failures >= failureThreshold) {
          this.livenessFailed = true;
          this.endLoop(loop);
          this.events.changed();
          return;
        }
        break;
      case 'readiness':
        if (res.ok && loop.successes >= successThreshold && !this.ready) {
          this.ready = true;
          this.events.changed();
        } else if (!res.ok && loop.failures >= failureThreshold && this.ready) {
          this.ready = false;
          this.events.changed();
        }
        break;
    }
    const period = Math.max(1, asNum(p.periodSeconds) ?? 10) * this.secondMs;
    this.schedule(loop, Math.max(0, period - (Date.now() - began)));
  }
}
