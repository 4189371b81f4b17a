// The cluster lifecycle verbs behind `skiff create|start|stop|delete|get`. Each takes a context
// (environment, output streams, the server entry script) so tests run them in-process against
// temp directories and a stand-in control plane.
import { joinCommand, loadOrCreateJoinToken } from '../cluster/join.js';
import { promises as fs } from 'node:fs';
import { DEFAULT_CLUSTER_NAME, defaultClusterConfig, firstServiceIP, parseClusterConfig, validateClusterName } from '../cluster/config.js';
import { probeAgent, waitForApi, waitForNodes } from '../cluster/health.js';
import { clientHost, contextName, mergeKubeconfig, removeFromKubeconfig, renderKubeconfig, resolveKubeconfigPath, serverUrl } from '../cluster/kubeconfig.js';
// The X.509 code (pki.js) is loaded only where certificates are made: it is slow to load.
import { loadPki, saveIssued, type ClusterPki } from '../cluster/pki-files.js';
import { assertPortFree, freePort, isRunning, logTail, spawnServer, stopServers, type SpawnedServer } from '../cluster/processes.js';
import { claimServiceSubnet } from '../cluster/service-subnets.js';
import { clusterExists, clusterPaths, createClusterDirs, listClusters, readClusterState, UnknownClusterError, writeClusterState, type ClusterState } from '../cluster/state.js';
import { formatDuration, parseDuration, Progress, type Output } from './progress.js';

export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: Output;
  stderr: Output;
  /** Script run as `node <serverEntry> serve --name N --home H` for the background server. */
  serverEntry: string;
  home: string;
}

/** An expected failure: printed as `ERROR: <message>`, exit code 1. */
export class CliError extends Error {}

const DEFAULT_WAIT_MS = 60_000;

function waitMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_MS;
  try {
    return parseDuration(text);
  } catch (e) {
    throw new CliError(`--wait: ${(e as Error).message}`);
  }
}

function say(out: Output, line: string): void {
  out.write(line + '\n');
}

async function existingState(ctx: CliContext, name: string): Promise<ClusterState> {
  validateClusterName(name);
  return readClusterState(ctx.home, name);
}

/**
 * Spawn the cluster's server. It loads its code meanwhile, but starts only on server.start() (see
 * spawnServer), so `create` finishes the certificates in parallel.
 */
async function launch(ctx: CliContext, state: ClusterState): Promise<SpawnedServer> {
  await assertPortFree(state.host, state.port);
  return spawnServer({ entry: ctx.serverEntry, name: state.name, home: ctx.home, env: ctx.env });
}

/**
 * Let the launched server start and wait for it: its report that the API serves, confirmed by
 * `/readyz` answering 200 to the admin credentials (bounded by the wait, or by 60s when --wait is
 * 0), then, with a non-zero wait, every configured node Ready. On failure the server is stopped
 * and the log tail printed.
 */
async function bringUp(ctx: CliContext, state: ClusterState, pki: ClusterPki, wait: number, launched: () => Promise<SpawnedServer>): Promise<void> {
  const progress = new Progress(ctx.stdout);
  const started = Date.now();
  const deadline = started + (wait > 0 ? wait : DEFAULT_WAIT_MS);
  const host = clientHost(state.host);
  const agent = probeAgent(pki);
  try {
    const server = await progress.step('Starting control-plane 🕹️', async () => {
      const s = await launched();
      s.start();
      await s.ready(deadline);
      await waitForApi({ host, port: state.port, pki, deadline, checkAlive: s.checkAlive, agent });
      return s;
    });
    if (wait > 0) {
      const waitStart = Date.now();
      await progress.step(`Waiting ≤ ${formatDuration(wait)} for control-plane = Ready ⏳`, () =>
        waitForNodes({ host, port: state.port, pki, deadline, checkAlive: server.checkAlive, agent }, state.config.nodes.map((n) => n.name)));
      say(ctx.stdout, ` • Ready after ${formatDuration(Date.now() - waitStart)} 💚`);
    }
  } catch (e) {
    agent.destroy();
    await stopServers(ctx.home, state.name);
    const tail = await logTail(ctx.home, state.name);
    if (tail) say(ctx.stderr, `Control plane log (${clusterPaths(ctx.home, state.name).log}), last lines:\n${tail}`);
    throw new CliError((e as Error).message);
  }
  agent.destroy();
}

export async function createCluster(
  ctx: CliContext,
  opts: { name?: string; config?: string; kubeconfig?: string; wait?: string; retain?: boolean },
): Promise<void> {
  const wait = waitMs(opts.wait);
  let parsed;
  if (opts.config) {
    let text: string;
    try {
      text = await fs.readFile(opts.config, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read config ${opts.config}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    parsed = parseClusterConfig(text, { name: opts.name, source: opts.config });
  } else {
    if (opts.name) validateClusterName(opts.name);
    parsed = { config: defaultClusterConfig(opts.name ?? DEFAULT_CLUSTER_NAME), warnings: [], serviceSubnetGiven: false };
  }
  const { config } = parsed;
  const name = config.name;
  if (await clusterExists(ctx.home, name)) throw new CliError(`cluster "${name}" already exists (delete it first: skiff delete cluster --name ${name})`);
  for (const w of parsed.warnings) say(ctx.stderr, `WARNING: ${w}`);
  const kubeconfig = resolveKubeconfigPath(opts.kubeconfig, ctx.env);

  say(ctx.stdout, `Creating cluster "${name}" ...`);
  const progress = new Progress(ctx.stdout);
  let created = false;
  try {
    const { state, pki, server } = await progress.step('Preparing certificates 🔐', async () => {
      try {
        await createClusterDirs(ctx.home, name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`cluster "${name}" already exists`);
        throw e;
      }
      created = true;
      if (!parsed.serviceSubnetGiven) {
        const own = await claimServiceSubnet(clusterPaths(ctx.home, name).dir);
        if (own) config.networking.serviceSubnet = own;
        else say(ctx.stderr, `WARNING: every default service range is held by another cluster: this one shares ${config.networking.serviceSubnet}`);
      }
      const host = config.networking.apiServerAddress;
      const port = config.networking.apiServerPort || (await freePort(host));
      const state: ClusterState = { name, config, host, port, createdAt: new Date().toISOString(), kubeconfig };
      await writeClusterState(ctx.home, state);
      // The server loads its code while the certificates are made: it waits for start().
      const server = await launch(ctx, state);
      const { createClusterPki, savePki } = await import('../cluster/pki.js');
      const wildcard = host === '0.0.0.0' || host === '::';
      const pki = await createClusterPki({ name, sans: [...(wildcard ? [] : [host]), firstServiceIP(config.networking.serviceSubnet)] });
      await savePki(clusterPaths(ctx.home, name).pki, pki);
      await preIssueComponentCerts(clusterPaths(ctx.home, name).pki, pki, config.nodes.map((n) => n.name));
      return { state, pki, server };
    });
    await bringUp(ctx, state, pki, wait, async () => server);
    await mergeKubeconfig(kubeconfig, {
      name: contextName(name), server: serverUrl(state.host, state.port),
      caCert: pki.ca.cert, clientCert: pki.admin.cert, clientKey: pki.admin.key,
    });
  } catch (e) {
    if (created) {
      await stopServers(ctx.home, name);
      if (opts.retain) say(ctx.stderr, `Keeping ${clusterPaths(ctx.home, name).dir} for inspection (--retain); remove it with: skiff delete cluster --name ${name}`);
      else await fs.rm(clusterPaths(ctx.home, name).dir, { recursive: true, force: true });
    }
    throw e;
  }
  const ctxName = contextName(name);
  say(ctx.stdout, `Set kubectl context to "${ctxName}"`);
  say(ctx.stdout, 'You can now use your cluster with:\n');
  say(ctx.stdout, `kubectl cluster-info --context ${ctxName}${opts.kubeconfig ? ` --kubeconfig ${opts.kubeconfig}` : ''}\n`);
}

export async function startCluster(ctx: CliContext, opts: { name?: string; wait?: string }): Promise<void> {
  const wait = waitMs(opts.wait);
  const state = await existingState(ctx, opts.name ?? DEFAULT_CLUSTER_NAME);
  if (await isRunning(ctx.home, state.name)) {
    say(ctx.stdout, `Cluster "${state.name}" is already running.`);
    return;
  }
  await stopServers(ctx.home, state.name); // clears stale pid files left by a crash
  const pki = await loadPki(clusterPaths(ctx.home, state.name).pki);
  say(ctx.stdout, `Starting cluster "${state.name}" ...`);
  await bringUp(ctx, state, pki, wait, () => launch(ctx, state));
  say(ctx.stdout, `Cluster "${state.name}" is running at ${serverUrl(state.host, state.port)}`);
}

export async function stopCluster(ctx: CliContext, opts: { name?: string }): Promise<void> {
  const state = await existingState(ctx, opts.name ?? DEFAULT_CLUSTER_NAME);
  if (!(await isRunning(ctx.home, state.name))) {
    await stopServers(ctx.home, state.name);
    say(ctx.stdout, `Cluster "${state.name}" is not running.`);
    return;
  }
  say(ctx.stdout, `Stopping cluster "${state.name}" ...`);
  await new Progress(ctx.stdout).step('Stopping control-plane 🛑', async () => {
    await stopServers(ctx.home, state.name);
    await stopLeftovers(ctx.home, state.name);
  });
}

/** Containers a killed control plane could not stop in time (loaded lazily: only clusters with nodes need it). */
async function stopLeftovers(home: string, name: string): Promise<void> {
  const { stopLeftoverContainers } = await import('../kubelet/runtime/process/leftovers.js');
  await stopLeftoverContainers(clusterPaths(home, name).dir);
}

async function deleteOne(ctx: CliContext, name: string, kubeconfigFlag: string | undefined): Promise<void> {
  validateClusterName(name);
  if (!(await clusterExists(ctx.home, name))) throw new UnknownClusterError(name);
  // A corrupt or half-written state must not prevent deletion.
  const state = await readClusterState(ctx.home, name).catch(() => undefined);
  await stopServers(ctx.home, name);
  await stopLeftovers(ctx.home, name);
  const files = new Set([resolveKubeconfigPath(kubeconfigFlag, ctx.env)]);
  if (!kubeconfigFlag && state?.kubeconfig) files.add(state.kubeconfig);
  for (const f of files) await removeFromKubeconfig(f, contextName(name));
  await fs.rm(clusterPaths(ctx.home, name).dir, { recursive: true, force: true });
}

export async function deleteCluster(ctx: CliContext, opts: { name?: string; kubeconfig?: string }): Promise<void> {
  const name = opts.name ?? DEFAULT_CLUSTER_NAME;
  validateClusterName(name);
  if (!(await clusterExists(ctx.home, name))) throw new UnknownClusterError(name);
  say(ctx.stdout, `Deleting cluster "${name}" ...`);
  await deleteOne(ctx, name, opts.kubeconfig);
}

export async function deleteAllClusters(ctx: CliContext, opts: { kubeconfig?: string }): Promise<void> {
  const names = await listClusters(ctx.home);
  for (const n of names) await deleteOne(ctx, n, opts.kubeconfig);
  say(ctx.stdout, `Deleted clusters: [${names.map((n) => `"${n}"`).join(' ')}]`);
}

export async function getClusters(ctx: CliContext): Promise<void> {
  const names = await listClusters(ctx.home);
  if (names.length === 0) say(ctx.stderr, 'No skiff clusters found.');
  for (const n of names) say(ctx.stdout, n);
}

export async function getKubeconfig(ctx: CliContext, opts: { name?: string }): Promise<void> {
  const state = await existingState(ctx, opts.name ?? DEFAULT_CLUSTER_NAME);
  const pki = await loadPki(clusterPaths(ctx.home, state.name).pki);
  ctx.stdout.write(renderKubeconfig({
    name: contextName(state.name), server: serverUrl(state.host, state.port),
    caCert: pki.ca.cert, clientCert: pki.admin.cert, clientKey: pki.admin.key,
  }));
}

/** `kubeadm token create --print-join-command` for a Skiff cluster. */
export async function getJoinCommand(ctx: CliContext, opts: { name?: string }): Promise<void> {
  const state = await existingState(ctx, opts.name ?? DEFAULT_CLUSTER_NAME);
  const paths = clusterPaths(ctx.home, state.name);
  const pki = await loadPki(paths.pki);
  say(ctx.stdout, joinCommand(serverUrl(state.host, state.port), loadOrCreateJoinToken(paths.pki), pki.ca.cert));
}

/** The certificates the control plane hands its kubelets and uses towards them, issued while the
 * X.509 code is loaded here anyway (keeps the server's start-up free of it). */
async function preIssueComponentCerts(dir: string, pki: ClusterPki, nodes: string[]): Promise<void> {
  const { createSelfSignedServingCert, issueClientCert, issueServingCert } = await import('../cluster/pki.js');
  await saveIssued(dir, 'kube-apiserver-kubelet-client', await issueClientCert(pki, 'kube-apiserver-kubelet-client', ['system:masters']));
  for (const n of nodes) await saveIssued(dir, `kubelet-${n}`, await issueServingCert(pki, n, [n]));
  await saveIssued(dir, 'ingress-default', await createSelfSignedServingCert('Skiff Ingress Controller Fake Certificate', ['ingress.local']));
}
