// What the data-plane benchmarks share: wrk options and runs, a backend process to load, and
// small socket helpers. Each caller keeps its own set of child processes to end on exit.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from './stats.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '1' },
  },
});
export const DURATION = Math.min(60, Math.max(1, Number(args.duration)));
export const CONNS = Math.min(1024, Math.max(1, Number(args.connections)));
export const THREADS = Math.min(16, Math.max(1, Number(args.threads)));
export const RUNS = Math.min(10, Math.max(1, Number(args.runs)));

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      execFileSync('test', ['-x', join(dir, cmd)]);
      return join(dir, cmd);
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export async function freePort(ip: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, ip, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function waitPort(ip: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: ip, port }, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${ip}:${port}`);
}

/** The backend: a separate Node process answering a small fixed body (as a typical pod would). */
export async function startBackend(ip: string, children: Set<ChildProcess>): Promise<number> {
  const port = await freePort(ip);
  const code = `require('http').createServer((q,s)=>{s.writeHead(200,{'content-type':'text/plain','content-length':13});s.end('hello, world\\n')}).listen(${port},'${ip}')`;
  const c = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  children.add(c);
  await waitPort(ip, port);
  return port;
}

export interface WrkResult {
  rps: number;
  p50: number; // ms
  p99: number; // ms
  errors: string;
}

function parseLatency(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/** One bounded wrk run (killed if it overruns its duration by 30 s). */
export function wrk(bin: string, url: string, children: Set<ChildProcess>, host?: string): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const hostHeader = host ? ['-H', `Host: ${host}`] : [];
    const c = spawn(bin, ['-t', String(THREADS), '-c', String(CONNS), '-d', `${DURATION}s`, '--latency', ...hostHeader, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const killer = setTimeout(() => c.kill('SIGKILL'), (DURATION + 30) * 1000);
    c.on('exit', (code) => {
      clearTimeout(killer);
      children.delete(c);
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const p50 = parseLatency(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
      const p99 = parseLatency(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
      const errors = [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], /Socket errors: .*/.exec(out)?.[0]].filter(Boolean).join('; ');
      resolve({ rps, p50, p99, errors });
    });
  });
}

export function best(rs: WrkResult[]): WrkResult {
  return rs.reduce((a, b) => (b.rps > a.rps ? b : a));
}
