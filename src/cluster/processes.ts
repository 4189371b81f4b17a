// Starting and stopping a cluster's background server process.
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fs } from 'node:fs';
import net from 'node:net';
import { CONTROL_PLANE, type LauncherMessage, type ServerMessage } from './server.js';
import { clusterPaths, isOurProcess, readPids, removePid, serveArgs, writePid } from './state.js';

export interface SpawnedServer {
  pid: number;
  /** Throws if the process has exited (while this CLI is still around to see it). */
  checkAlive(): void;
  /** The cluster's state and certificates are complete: let the server start its control plane. */
  start(): void;
  /**
   * Resolves when the server reports that its API serves; rejects if it exits first or when
   * `deadline` (ms since epoch) passes. Either way the channel to it is then closed.
   */
  ready(deadline: number): Promise<void>;
}

/**
 * Start `node <entry> serve --name N --home H` detached, with stdout+stderr appended to the
 * cluster's log and an IPC channel to this process, and record its pid. The server loads its code
 * and then waits for start() (see runServer), so the caller may finish the cluster's files
 * meanwhile. The CLI may exit right after ready(); the server lives on.
 */
export async function spawnServer(opts: { entry: string; name: string; home: string; env: NodeJS.ProcessEnv }): Promise<SpawnedServer> {
  const paths = clusterPaths(opts.home, opts.name);
  const fd = openSync(paths.log, 'a', 0o600);
  let exit: string | undefined;
  try {
    const child = spawn(process.execPath, [opts.entry, ...serveArgs(opts.name, opts.home)], {
      detached: true, // own process group: a Ctrl-C in the creating terminal does not reach it
      stdio: ['ignore', fd, fd, 'ipc'],
      env: opts.env,
    });
    const pid = child.pid;
    if (pid === undefined) {
      const err = await new Promise<Error>((r) => child.once('error', r));
      throw new Error(`cannot start the control plane: ${err.message}`);
    }
    child.unref();
    // Waiting in ready() keeps this process alive (a timer); the channel itself never does.
    child.channel?.unref();
    child.on('error', () => {}); // a send to a server that already exited: its exit is reported instead
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exit = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    // Set up now, so no message is missed; 'gone' waits a turn so a message sent just before the
    // channel closed is seen first.
    const outcome = new Promise<'ready' | 'gone'>((resolve) => {
      child.on('message', (m: ServerMessage) => {
        if (m?.type === 'ready') resolve('ready');
      });
      child.once('disconnect', () => setImmediate(() => resolve('gone')));
      void exited.then(() => setImmediate(() => resolve('gone')));
    });
    await writePid(opts.home, opts.name, CONTROL_PLANE, pid);
    return {
      pid,
      checkAlive() {
        if (exit) throw new Error(`the control plane exited (${exit})`);
      },
      start() {
        const msg: LauncherMessage = { type: 'start' };
        if (child.connected) child.send(msg);
      },
      async ready(deadline) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = () => new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))));
        try {
          const first = await Promise.race([outcome, timeout()]);
          if (first === 'ready') return;
          if (first === 'timeout') throw new Error('the API server did not become ready in time (the control plane has not reported ready)');
          clearTimeout(timer);
          // The channel closed without a ready message: the process is exiting.
          await Promise.race([exited, timeout()]);
          if (exit) throw new Error(`the control plane exited (${exit})`);
          throw new Error('the control plane closed its channel without reporting ready');
        } finally {
          clearTimeout(timer);
          if (child.connected) child.disconnect();
        }
      },
    };
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True if any recorded process of the cluster is alive and ours. */
export async function isRunning(home: string, name: string): Promise<boolean> {
  return (await readPids(home, name)).some((p) => isOurProcess(p.pid, name, home));
}

/**
 * SIGTERM every recorded process that is alive and ours, give them `graceMs` to exit, then SIGKILL.
 * Pid files are removed in all cases. Returns the number of processes that were running.
 */
export async function stopServers(home: string, name: string, graceMs = 10_000): Promise<number> {
  const running = (await readPids(home, name)).filter((p) => isOurProcess(p.pid, name, home));
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      // exited between the check and the signal
    }
  }
  const deadline = Date.now() + graceMs;
  let alive = running;
  while (alive.length && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter((p) => isOurProcess(p.pid, name, home));
  }
  for (const p of alive) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // SIGKILL cannot be refused; this only waits for the kernel to finish tearing the process down.
  for (let i = 0; alive.length && i < 250; i++) {
    await sleep(20);
    alive = alive.filter((p) => isOurProcess(p.pid, name, home));
  }
  if (alive.length) throw new Error(`process ${alive.map((p) => p.pid).join(', ')} did not exit after SIGKILL`);
  for (const p of await readPids(home, name)) await removePid(home, name, p.component);
  return running.length;
}

/** Ask the OS for a free port on `host`. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Fail early, with a message naming the port, rather than letting the server die on EADDRINUSE. */
export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use`
        : e.code === 'EADDRNOTAVAIL' ? `address ${host} is not available on this machine`
          : `cannot listen on ${host}:${port}: ${e.message}`));
    });
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** The last `lines` lines of the cluster's log, for failure reports. */
export async function logTail(home: string, name: string, lines = 20): Promise<string> {
  try {
    const text = await fs.readFile(clusterPaths(home, name).log, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
