// Readiness of a cluster as a client sees it: HTTPS verified against the cluster CA, authenticated
// with the admin client certificate — the same trust path kubectl uses.
import https from 'node:https';
import tls from 'node:tls';
import type { ClusterPki } from './pki.js';

export interface ApiResponse {
  status: number;
  body: string;
}

/**
 * A keep-alive agent for a series of probes: one TLS connection for all of them, its credentials
 * parsed at once (before the server is up, off the critical path). destroy() it when done.
 */
export function probeAgent(pki: ClusterPki): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: tls.createSecureContext({ ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key }) });
}

export function apiGet(host: string, port: number, pki: ClusterPki, path: string, timeoutMs = 5000, agent?: https.Agent): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host, port, path, method: 'GET',
        ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key,
        agent: agent ?? false, // without one: a connection per probe, nothing left open to keep the CLI alive
        timeout: timeoutMs,
        headers: { accept: 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from https://${host}:${port}${path} within ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface WaitOptions {
  host: string;
  port: number;
  pki: ClusterPki;
  /** Absolute time (ms since epoch) after which waiting fails. */
  deadline: number;
  /** Throws when the server process is known to have died, to fail fast instead of waiting it out. */
  checkAlive: () => void;
  /** Connection reuse across probes (probeAgent); by default each probe has its own connection. */
  agent?: https.Agent;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function timeLeft(deadline: number): number {
  return deadline - Date.now();
}

/** Poll /readyz until it answers 200. */
export async function waitForApi(o: WaitOptions): Promise<void> {
  let last = 'no answer yet';
  for (;;) {
    o.checkAlive();
    try {
      const r = await apiGet(o.host, o.port, o.pki, '/readyz', Math.max(100, Math.min(2000, timeLeft(o.deadline))), o.agent);
      if (r.status === 200) return;
      last = `/readyz answered ${r.status}${r.body ? `: ${r.body.trim().split('\n')[0]}` : ''}`;
      if (r.status === 401 || r.status === 403) throw new Error(`the API server refused the admin credentials (${last})`);
    } catch (e) {
      if ((e as Error).message.startsWith('the API server refused')) throw e;
      last = (e as Error).message;
    }
    if (timeLeft(o.deadline) <= 0) throw new Error(`the API server did not become ready in time (${last})`);
    await sleep(Math.min(100, Math.max(0, timeLeft(o.deadline))));
  }
}

interface NodeList {
  items?: { metadata?: { name?: string }; status?: { conditions?: { type?: string; status?: string }[] } }[];
}

/**
 * Wait until every named Node exists and is Ready. Called once /readyz is 200. If at that point the
 * API has no nodes endpoint (404) or no Node objects at all, the control plane runs no node agents
 * and the API server alone is the cluster: nothing to wait for. (Contract for node agents: register
 * the Node object, even NotReady, before the control plane reports ready.)
 */
export async function waitForNodes(o: WaitOptions, names: string[]): Promise<void> {
  let last = 'no answer yet';
  for (let first = true; ; first = false) {
    o.checkAlive();
    try {
      const r = await apiGet(o.host, o.port, o.pki, '/api/v1/nodes', Math.max(100, Math.min(2000, timeLeft(o.deadline))), o.agent);
      if (r.status === 404) return;
      if (r.status === 200) {
        const list = JSON.parse(r.body) as NodeList;
        if (first && (list.items ?? []).length === 0) return;
        const ready = new Set(
          (list.items ?? [])
            .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
            .map((n) => n.metadata?.name),
        );
        const missing = names.filter((n) => !ready.has(n));
        if (missing.length === 0) return;
        last = `not Ready: ${missing.join(', ')}`;
      } else {
        last = `/api/v1/nodes answered ${r.status}`;
      }
    } catch (e) {
      last = (e as Error).message;
    }
    if (timeLeft(o.deadline) <= 0) throw new Error(`nodes did not become Ready in time (${last})`);
    await sleep(Math.min(200, Math.max(0, timeLeft(o.deadline))));
  }
}
