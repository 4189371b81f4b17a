// The kubelet's only view of how containers run (a small CRI). Two implementations are planned:
// `process` (portable: each container is a host process; pod IPs are loopback addresses) and
// `container` (Linux as root: namespaces, cgroups, an OCI runtime). Both must satisfy the same
// kubelet tests; the container runtime adds isolation, not different behaviour.
import type { Duplex, Readable, Writable } from 'node:stream';

export interface PodSandboxConfig {
  uid: string;
  namespace: string;
  name: string;
  /** The pod's IP, chosen by the kubelet from the node's pod CIDR. */
  ip: string;
  hostname: string;
  /** Extra /etc/hosts-style entries and DNS settings (used by the container runtime; the process runtime exports them). */
  dnsServers?: string[];
  dnsSearches?: string[];
  labels?: Record<string, string>;
}

export interface Sandbox {
  id: string;
  config: PodSandboxConfig;
  /** Host directory holding this pod's volumes, logs and container state. */
  dir: string;
}

export interface Mount {
  /** Host path (a volume's directory or file prepared by the kubelet). */
  hostPath: string;
  /** Where the container sees it. The process runtime cannot honour absolute paths outside its rootfs: see `unsupported`. */
  containerPath: string;
  readOnly: boolean;
  subPath?: string;
}

export interface ContainerConfig {
  name: string;
  image: string;
  /** Resolved entrypoint and arguments (the kubelet merged command/args with the image's defaults). */
  command: string[];
  args: string[];
  env: Record<string, string>;
  workingDir?: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  mounts: Mount[];
  /** Bytes; the runtime kills the container with reason OOMKilled (exit 137) above it. */
  memoryLimitBytes?: number;
  /** CPU limit in millicores (advisory for the process runtime). */
  cpuLimitMillis?: number;
  /** Restart attempt number (0 for the first run): identifies this instance's logs. */
  attempt: number;
  ports: { containerPort: number; protocol: string; name?: string }[];
}

export type ContainerId = string;

export interface ContainerStatus {
  id: ContainerId;
  sandboxId: string;
  name: string;
  attempt: number;
  state: 'created' | 'running' | 'exited' | 'unknown';
  pid?: number;
  createdAt: string; // RFC 3339
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Why it exited: Completed (0), Error (non-zero), OOMKilled, ContainerCannotRun, StartError. */
  reason?: string;
  message?: string;
  image: string;
  /** Absolute path of the log file (CRI format: `<RFC3339Nano> <stdout|stderr> <F|P> <text>` per line). */
  logPath: string;
}

export interface ExecIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  /** Terminal size changes (tty only). */
  resize?: (listener: (size: { width: number; height: number }) => void) => void;
}

export interface LogOptions {
  follow: boolean;
  /** Only the last N lines. */
  tailLines?: number;
  /** Only lines newer than this (ms since epoch). */
  sinceTime?: number;
  timestamps: boolean;
  limitBytes?: number;
  /** Stop following when this signal aborts (client went away). */
  signal?: AbortSignal;
}

export interface Usage {
  /** Cumulative CPU time in nanoseconds (rates are computed by the caller from two samples). */
  cpuUsageNanos: number;
  memoryWorkingSetBytes: number;
  timestamp: number;
}

export interface Runtime {
  readonly name: string;
  /** Facts for the Node's nodeInfo: e.g. "skiff-process://0.1.0". */
  readonly version: string;
  /** Create (or find, when re-adopting after a restart) the pod-level sandbox. */
  runSandbox(config: PodSandboxConfig): Promise<Sandbox>;
  /** Stop every container in it and release its resources (its directory is removed by removeSandbox). */
  stopSandbox(id: string): Promise<void>;
  removeSandbox(id: string): Promise<void>;
  createContainer(sandbox: Sandbox, config: ContainerConfig): Promise<ContainerId>;
  startContainer(id: ContainerId): Promise<void>;
  /** SIGTERM, then SIGKILL after graceSeconds. Resolves when the container has exited. */
  stopContainer(id: ContainerId, graceSeconds: number): Promise<void>;
  removeContainer(id: ContainerId): Promise<void>;
  containerStatus(id: ContainerId): Promise<ContainerStatus | undefined>;
  /** Everything this runtime knows about on this node (adoption after a kubelet restart). */
  listSandboxes(): Promise<Sandbox[]>;
  listContainers(sandboxId?: string): Promise<ContainerStatus[]>;
  /** Subscribe to container exits (so the kubelet reacts at once instead of polling). */
  onExit(listener: (status: ContainerStatus) => void): void;
  /** Run a command in the container's context; resolves with its exit code. */
  exec(id: ContainerId, cmd: string[], io: ExecIO, signal?: AbortSignal): Promise<number>;
  /** Connect to the main process's stdio (requires stdin/tty set on the container for input). */
  attach(id: ContainerId, io: ExecIO, signal?: AbortSignal): Promise<void>;
  /** A byte stream of the container's log (a previous instance's logs: pass that instance's id). */
  logs(id: ContainerId, opts: LogOptions): Readable;
  /** CPU and memory of the container's processes. */
  stats(id: ContainerId): Promise<Usage | undefined>;
  /** A TCP connection to port inside the pod's network (port-forward). */
  portForward(sandboxId: string, port: number): Promise<Duplex>;
  /** What this runtime could not honour for a container (an Event and the docs say so). */
  unsupported(config: ContainerConfig): string[];
  close(): Promise<void>;
}
