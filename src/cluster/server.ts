// The background server process of one cluster: load its saved state, run the control plane,
// shut it down cleanly on SIGTERM/SIGINT. The control plane itself is injected, so this lifecycle
// is testable with a stand-in and has no compile-time dependency on the real one.
import type { ClusterConfig } from './config.js';
import { loadPki, type ClusterPki } from './pki-files.js';
import { clusterPaths, readClusterState, readPids, removePid } from './state.js';

export interface ControlPlaneHandle {
  close(): Promise<void>;
}

/** Structurally the same as src/controlplane/run.ts's runControlPlane. */
export type ControlPlaneRunner = (opts: {
  name: string;
  /** The cluster's directory ($SKIFF_HOME/clusters/<name>); the store belongs in its data/. */
  stateDir: string;
  host: string;
  port: number;
  pki: ClusterPki;
  cluster: ClusterConfig;
  log: (line: string) => void;
}) => Promise<ControlPlaneHandle>;

export const CONTROL_PLANE = 'controlplane';

function log(line: string): void {
  // stdout is the cluster's log file (see spawnServer), so every line gets a timestamp.
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/**
 * The launcher's side of the IPC channel (`create`/`start cluster` spawn the server with one; see
 * spawnServer): it loads its code while the launcher finishes the cluster's files, starts when
 * told so, and reports when it serves instead of being polled.
 *   launcher → server  {type: 'start'}   state and certificates are complete
 *   server → launcher  {type: 'ready'}   the API answers; the server then disconnects
 */
export type LauncherMessage = { type: 'start' };
export type ServerMessage = { type: 'ready' };

/** Resolves on the launcher's start message; rejects if the launcher goes away before it. */
function launcherStart(): Promise<void> {
  return new Promise((resolve, reject) => {
    const gone = () => new Error('the launcher exited before the cluster was ready to start');
    if (!process.connected) return reject(gone()); // it left while this process was loading
    const onMessage = (m: LauncherMessage) => {
      if (m?.type !== 'start') return;
      process.off('disconnect', onDisconnect);
      process.off('message', onMessage);
      resolve();
    };
    const onDisconnect = () => {
      process.off('message', onMessage);
      reject(gone());
    };
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  });
}

function reportReady(): void {
  if (!process.send || !process.connected) return; // the launcher is gone: nobody to tell
  const msg: ServerMessage = { type: 'ready' };
  // Disconnect once sent, so the channel holds neither process open.
  process.send(msg, undefined, undefined, () => {
    if (process.connected) process.disconnect();
  });
}

/**
 * Start the control plane and keep running until a signal arrives. Resolves once it is serving;
 * the process then lives on the control plane's open handles. Throws if it cannot start.
 * Spawned with an IPC channel (process.send), it first waits for the launcher's start message.
 */
export async function runServer(opts: { name: string; home: string }, run: ControlPlaneRunner): Promise<void> {
  if (process.send) await launcherStart();
  const state = await readClusterState(opts.home, opts.name);
  const paths = clusterPaths(opts.home, opts.name);
  const pki = await loadPki(paths.pki);
  log(`starting control plane for cluster "${state.name}" on ${state.host}:${state.port} (process up ${Math.round(process.uptime() * 1000)} ms)`);
  const handle = await run({
    name: state.name, stateDir: paths.dir, host: state.host, port: state.port, pki, cluster: state.config, log,
  });
  log('control plane started');
  reportReady();

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`received ${signal} again, exiting immediately`);
      process.exit(1);
    }
    stopping = true;
    log(`received ${signal}, shutting down`);
    let code = 0;
    try {
      await handle.close();
    } catch (e) {
      log(`error during shutdown: ${(e as Error).stack ?? e}`);
      code = 1;
    }
    // Only our own pid file: a newer server may already have replaced it.
    const own = (await readPids(opts.home, opts.name)).find((p) => p.component === CONTROL_PLANE && p.pid === process.pid);
    if (own) await removePid(opts.home, opts.name, CONTROL_PLANE);
    log('stopped');
    process.exit(code);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
}
