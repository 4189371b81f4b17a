// An in-memory Runtime for kubelet tests: containers never run anything; the test decides when
// they exit and with which code, what exec (probes, hooks) answers, and reads every call made.
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import type { ContainerConfig, ContainerId, ContainerStatus, ExecIO, LogOptions, PodSandboxConfig, Runtime, Sandbox, Usage } from '../../../src/kubelet/runtime/types.js';

export interface FakeContainer {
  status: ContainerStatus;
  config: ContainerConfig;
  sandbox: Sandbox;
}

export interface Call {
  op: string;
  id?: string;
  name?: string;
  pod?: string;
  grace?: number;
  cmd?: string[];
}

export class FakeRuntime implements Runtime {
  readonly name = 'fake';
  readonly version = 'fake://0.1.0';
  sandboxes = new Map<string, Sandbox & { stopped: boolean }>();
  containers = new Map<string, FakeContainer>();
  calls: Call[] = [];
  /** Called after a container starts (e.g. make it exit at once). */
  onStart?: (c: FakeContainer) => void;
  /** exec's exit code (probes, hooks). */
  execHandler: (c: FakeContainer, cmd: string[]) => number = () => 0;
  /** What the runtime says it cannot honour. */
  unsupportedFn: (config: ContainerConfig) => string[] = () => [];
  private listeners: ((s: ContainerStatus) => void)[] = [];
  private seq = 0;

  async runSandbox(config: PodSandboxConfig): Promise<Sandbox> {
    for (const sb of this.sandboxes.values())
      if (sb.config.uid === config.uid) {
        sb.stopped = false;
        this.calls.push({ op: 'findSandbox', id: sb.id, pod: config.name });
        return { id: sb.id, config: sb.config, dir: sb.dir };
      }
    const id = `sb-${++this.seq}`;
    const sb = { id, config: { ...config }, dir: `/nonexistent/${id}`, stopped: false };
    this.sandboxes.set(id, sb);
    this.calls.push({ op: 'runSandbox', id, pod: config.name });
    return { id, config: sb.config, dir: sb.dir };
  }

  async stopSandbox(id: string): Promise<void> {
    this.calls.push({ op: 'stopSandbox', id });
    const sb = this.sandboxes.get(id);
    if (!sb) return;
    for (const c of this.containers.values()) if (c.sandbox.id === id && c.status.state === 'running') this.exit(c.status.id, 137);
    sb.stopped = true;
  }

  async removeSandbox(id: string): Promise<void> {
    this.calls.push({ op: 'removeSandbox', id });
    this.sandboxes.delete(id);
    for (const [cid, c] of this.containers) if (c.sandbox.id === id) this.containers.delete(cid);
  }

  async createContainer(sandbox: Sandbox, config: ContainerConfig): Promise<ContainerId> {
    const id = `c-${++this.seq}`;
    const status: ContainerStatus = {
      id,
      sandboxId: sandbox.id,
      name: config.name,
      attempt: config.attempt,
      state: 'created',
      createdAt: new Date().toISOString(),
      image: config.image,
      logPath: `/nonexistent/${id}.log`,
    };
    this.containers.set(id, { status, config, sandbox });
    this.calls.push({ op: 'create', id, name: config.name, pod: sandbox.config.name });
    return id;
  }

  async startContainer(id: ContainerId): Promise<void> {
    const c = this.containers.get(id);
    if (!c) throw new Error(`no container ${id}`);
    c.status.state = 'running';
    c.status.pid = 1000 + this.seq;
    c.status.startedAt = new Date().toISOString();
    this.calls.push({ op: 'start', id, name: c.config.name, pod: c.sandbox.config.name });
    this.onStart?.(c);
  }

  async stopContainer(id: ContainerId, graceSeconds: number): Promise<void> {
    const c = this.containers.get(id);
    this.calls.push({ op: 'stop', id, name: c?.config.name, pod: c?.sandbox.config.name, grace: graceSeconds });
    if (c && c.status.state === 'running') this.exit(id, graceSeconds > 0 ? 143 : 137);
  }

  async removeContainer(id: ContainerId): Promise<void> {
    this.calls.push({ op: 'remove', id });
    this.containers.delete(id);
  }

  async containerStatus(id: ContainerId): Promise<ContainerStatus | undefined> {
    const c = this.containers.get(id);
    return c ? { ...c.status } : undefined;
  }

  async listSandboxes(): Promise<Sandbox[]> {
    return [...this.sandboxes.values()].map((s) => ({ id: s.id, config: s.config, dir: s.dir }));
  }

  async listContainers(sandboxId?: string): Promise<ContainerStatus[]> {
    return [...this.containers.values()].filter((c) => !sandboxId || c.sandbox.id === sandboxId).map((c) => ({ ...c.status }));
  }

  onExit(listener: (status: ContainerStatus) => void): void {
    this.listeners.push(listener);
  }

  async exec(id: ContainerId, cmd: string[], io: ExecIO): Promise<number> {
    const c = this.containers.get(id);
    this.calls.push({ op: 'exec', id, name: c?.config.name, cmd });
    if (!c || c.status.state !== 'running') throw new Error(`container ${id} is not running`);
    const code = this.execHandler(c, cmd);
    io.stdout?.write(`exec ${cmd.join(' ')} -> ${code}\n`);
    return code;
  }

  async attach(): Promise<void> {}

  logs(_id: ContainerId, _opts: LogOptions): Readable {
    const s = new PassThrough();
    s.end();
    return s;
  }

  async stats(): Promise<Usage | undefined> {
    return undefined;
  }

  async portForward(): Promise<Duplex> {
    throw new Error('not supported by the fake runtime');
  }

  unsupported(config: ContainerConfig): string[] {
    return this.unsupportedFn(config);
  }

  async close(): Promise<void> {}

  // ------------------------------------------------------------------------------------------
  // Test controls

  /** Make a running container exit now (listeners hear about it asynchronously, as from a process). */
  exit(id: ContainerId, code: number, reason?: string): void {
    const c = this.containers.get(id);
    if (!c || c.status.state !== 'running') return;
    c.status.state = 'exited';
    c.status.exitCode = code;
    c.status.reason = reason ?? (code === 0 ? 'Completed' : 'Error');
    c.status.finishedAt = new Date().toISOString();
    const snapshot = { ...c.status };
    setImmediate(() => {
      for (const l of this.listeners) l(snapshot);
    });
  }

  /** Every instance of a pod's container, oldest first. */
  instances(pod: string, container: string): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.sandbox.config.name === pod && c.config.name === container).sort((a, b) => a.config.attempt - b.config.attempt);
  }

  running(pod: string, container: string): FakeContainer | undefined {
    return this.instances(pod, container).find((c) => c.status.state === 'running');
  }

  /** Exit the running instance of a pod's container. */
  exitContainer(pod: string, container: string, code: number): void {
    const c = this.running(pod, container);
    if (!c) throw new Error(`${pod}/${container} is not running`);
    this.exit(c.status.id, code);
  }

  callsFor(op: string, pod?: string): Call[] {
    return this.calls.filter((c) => c.op === op && (pod === undefined || c.pod === pod));
  }
}
