// The kernel data plane (kube-proxy's nftables mode, reduced to loopback): one `ip` table the
// proxy owns, rewritten in a single `nft -f` transaction per sync, so packets never see a half
// state. Locally generated connections (every pod is a host process) are DNATed in the nat
// OUTPUT hook; PREROUTING carries the same dispatch for traffic arriving from elsewhere on lo.
// Loopback-to-loopback DNAT needs no route_localnet: nothing leaves lo.
//
//   nat-output / nat-prerouting   ip daddr 127.0.0.0/8 jump services
//   services                      ip daddr . l4proto . dport vmap { VIP . tcp . 80 : goto svc-… }
//   svc-<h>                       [ip saddr @aff-<e> goto ep-<e>]…   (ClientIP affinity)
//                                 numgen inc | jhash ip saddr | jhash ip daddr  mod N vmap { i : goto ep-… }
//   ep-<h>                        [update @aff-<e> { ip saddr }]  dnat to IP:port
//   filter-output                 (no endpoints) VIP . proto . port → reject (connection refused)
//
// rr → numgen inc (exact round robin), sh → jhash of the source, dh → jhash of the destination.
// lc/sed/nq need live connection counts the kernel's nat table does not expose: the caller keeps
// those service ports in the userspace proxy (see kernelCapable).
//
// Chains and affinity sets are added idempotently and flushed rather than the table recreated,
// so affinity entries survive syncs; chains and sets no longer wanted are deleted in the same
// transaction.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { frontendsOf, type ProxyServicePort } from './model.js';

export const BASE_CHAINS: Record<string, string> = {
  'nat-output': 'type nat hook output priority -100; policy accept;',
  'nat-prerouting': 'type nat hook prerouting priority -100; policy accept;',
  'filter-output': 'type filter hook output priority 0; policy accept;',
};

/** Whether the kernel rules can express this service port's balancing. */
export function kernelCapable(sp: ProxyServicePort): boolean {
  return sp.algorithm === 'rr' || sp.algorithm === 'sh' || sp.algorithm === 'dh';
}

function h(s: string): string {
  return createHash('sha256').update(s).digest('base64url').replace(/[-_]/g, 'x').slice(0, 12);
}

export interface NftState {
  chains: Set<string>;
  sets: Set<string>;
}

export interface RenderResult {
  script: string;
  state: NftState;
}

function proto(p: string): string {
  return p === 'UDP' ? 'udp' : 'tcp';
}

/** The transaction that makes table `table` program `ports` (all kernel-capable), given what the last one created. */
export function renderTransaction(table: string, ports: readonly ProxyServicePort[], nodeIPs: readonly string[], prev?: NftState): RenderResult {
  const T = `ip ${table}`;
  const chains = new Map<string, string[]>(); // name → rules
  const sets = new Map<string, number>(); // name → timeout s
  const dispatch: string[] = [];
  const rejects: string[] = [];
  chains.set('services', []);
  for (const c of Object.keys(BASE_CHAINS)) chains.set(c, []);
  chains.get('nat-output')!.push('ip daddr 127.0.0.0/8 jump services');
  chains.get('nat-prerouting')!.push('ip daddr 127.0.0.0/8 jump services');

  const sorted = [...ports].sort((a, b) => a.key.localeCompare(b.key));
  for (const sp of sorted) {
    const fronts = frontendsOf(sp, nodeIPs).map((f) => `${f.ip} . ${proto(f.protocol)} . ${f.port}`);
    if (fronts.length === 0) continue;
    if (sp.endpoints.length === 0) {
      rejects.push(...fronts);
      continue;
    }
    const svcChain = `svc-${h(sp.key)}`;
    const rules: string[] = [];
    const targets: string[] = [];
    for (const ep of sp.endpoints) {
      const epChain = `ep-${h(`${sp.key}|${ep.ip}:${ep.port}`)}`;
      const epRules: string[] = [];
      if (sp.affinityTimeoutS !== undefined) {
        const set = `aff-${h(`${sp.key}|${ep.ip}:${ep.port}|${sp.affinityTimeoutS}`)}`;
        sets.set(set, sp.affinityTimeoutS);
        rules.push(`ip saddr @${set} goto ${epChain}`);
        epRules.push(`update @${set} { ip saddr }`);
      }
      epRules.push(`meta l4proto ${proto(sp.protocol)} dnat to ${ep.ip}:${ep.port}`);
      chains.set(epChain, epRules);
      targets.push(epChain);
    }
    if (targets.length === 1) rules.push(`goto ${targets[0]}`);
    else {
      const gen = sp.algorithm === 'sh' ? 'jhash ip saddr' : sp.algorithm === 'dh' ? 'jhash ip daddr' : 'numgen inc';
      rules.push(`${gen} mod ${targets.length} vmap { ${targets.map((t, i) => `${i} : goto ${t}`).join(', ')} }`);
    }
    chains.set(svcChain, rules);
    for (const f of fronts) dispatch.push(`${f} : goto ${svcChain}`);
  }
  if (dispatch.length) chains.get('services')!.push(`ip daddr . meta l4proto . th dport vmap { ${[...new Set(dispatch)].join(', ')} }`);
  if (rejects.length) chains.get('filter-output')!.push(`ip daddr . meta l4proto . th dport { ${[...new Set(rejects)].join(', ')} } reject`);

  const lines: string[] = [`add table ${T}`];
  for (const [name] of chains) lines.push(BASE_CHAINS[name] ? `add chain ${T} ${name} { ${BASE_CHAINS[name]} }` : `add chain ${T} ${name}`);
  for (const [name, timeout] of sets) lines.push(`add set ${T} ${name} { type ipv4_addr; flags dynamic,timeout; timeout ${timeout}s; }`);
  const stale = [...(prev?.chains ?? [])].filter((c) => !chains.has(c));
  for (const name of [...chains.keys(), ...stale]) lines.push(`flush chain ${T} ${name}`);
  for (const name of stale) lines.push(`delete chain ${T} ${name}`);
  for (const name of prev?.sets ?? []) if (!sets.has(name)) lines.push(`delete set ${T} ${name}`);
  for (const [name, rules] of chains) for (const r of rules) lines.push(`add rule ${T} ${name} ${r}`);
  return { script: lines.join('\n') + '\n', state: { chains: new Set(chains.keys()), sets: new Set(sets.keys()) } };
}

function runNft(args: string[], input?: string, timeoutMs?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('nft', args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let err = '';
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft ${args.join(' ')} exited ${code}: ${err.trim().slice(0, 2000)}`))));
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

/** Whether nft could be used here at all (Linux, root); running it tells the rest (nftUsable, reset). */
export function nftPossible(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

/** Whether nft can be used here (root, the binary, a kernel with nf_tables). Synchronous. */
export function nftUsable(): boolean {
  if (!nftPossible()) return false;
  const probe = `skiff-probe-${process.pid}`;
  const r = spawnSync('nft', ['-f', '-'], { input: `add table ip ${probe}\ndelete table ip ${probe}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 5000 });
  return r.status === 0;
}

/**
 * The kernel data plane for `table`, cleared of what an earlier run left; undefined where nft
 * cannot be used (not root, no binary, no nf_tables): the clearing doubles as the probe.
 */
export async function openKernelProxy(table: string, log?: (line: string) => void): Promise<NftablesProxy | undefined> {
  if (!nftPossible()) return undefined;
  const kernel = new NftablesProxy(table, log);
  return kernel.reset().then(() => kernel, () => undefined);
}

/** The UDP backends of each service port ("ip:port"), to find the ones that left. */
function udpBackends(ports: readonly ProxyServicePort[]): Set<string> {
  const out = new Set<string>();
  for (const sp of ports) if (sp.protocol === 'UDP') for (const e of sp.endpoints) out.add(`${e.ip}:${e.port}`);
  return out;
}

let conntrackBin: string | null | undefined;
function conntrackAvailable(): boolean {
  if (conntrackBin === undefined) conntrackBin = spawnSync('conntrack', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0 ? 'conntrack' : null;
  return conntrackBin !== null;
}

/**
 * UDP has no connection end: a flow DNATed to a backend that left keeps going there until its
 * conntrack entry times out. As upstream does, delete those entries (best effort; needs the
 * `conntrack` tool from conntrack-tools).
 */
async function clearUdpFlows(removed: string[], log: (line: string) => void): Promise<void> {
  if (removed.length === 0 || !conntrackAvailable()) return;
  for (const ep of removed) {
    const i = ep.lastIndexOf(':');
    await new Promise<void>((resolve) => {
      const p = spawn('conntrack', ['-D', '-p', 'udp', '--reply-src', ep.slice(0, i), '--reply-port-src', ep.slice(i + 1)], { stdio: 'ignore' });
      p.on('error', (e) => (log(`proxy: conntrack: ${e.message}`), resolve()));
      p.on('close', () => resolve()); // exit 1 = nothing to delete
    });
  }
}

export class NftablesProxy {
  private state?: NftState;
  private stopped = false;
  private udp = new Set<string>();

  constructor(
    readonly table: string,
    private log: (line: string) => void = () => {},
  ) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,60}$/.test(table)) throw new Error(`invalid nft table name ${JSON.stringify(table)}`);
  }

  /**
   * Removes a table left by an earlier run (a crash) so the first sync starts from nothing. Fails
   * where nft cannot be used (no binary, no nf_tables), so it doubles as the probe for that.
   */
  async reset(): Promise<void> {
    await runNft(['-f', '-'], `add table ip ${this.table}\ndelete table ip ${this.table}\n`, 5000);
    this.state = undefined;
  }

  async apply(ports: readonly ProxyServicePort[], nodeIPs: readonly string[]): Promise<void> {
    if (this.stopped) return;
    const { script, state } = renderTransaction(this.table, ports, nodeIPs, this.state);
    try {
      await runNft(['-f', '-'], script);
    } catch (e) {
      // The state is unknown now: start over from an empty table next time.
      this.log(`proxy: nft sync failed: ${(e as Error).message}`);
      await this.reset().catch(() => {});
      throw e;
    }
    this.state = state;
    const udp = udpBackends(ports);
    const removed = [...this.udp].filter((e) => !udp.has(e));
    this.udp = udp;
    await clearUdpFlows(removed, this.log);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await runNft(['-f', '-'], `add table ip ${this.table}\ndelete table ip ${this.table}\n`).catch((e) => this.log(`proxy: ${(e as Error).message}`));
    this.state = undefined;
  }
}
