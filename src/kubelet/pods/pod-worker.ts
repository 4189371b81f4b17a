// One pod's lifecycle on this node: a serialized sync loop (one sync at a time, re-run when the
// pod changes, a container exits or a probe result changes) that does what upstream's kubelet
// syncPod / computePodActions / pod_workers do: sandbox with an IP, volumes, init containers in
// order, native sidecars, app containers with restart policy and crash-loop back-off, probes,
// lifecycle hooks, status through the status subresource, graceful termination and deletion.
import type { ApiClient } from '../../client/client.js';
import { R } from '../../client/client.js';
import { StatusError } from '../../machinery/errors.js';
import { jsonEqual, type KObject } from '../../machinery/object.js';
import { asArr, asNum, asObj, asStr, dig, type Obj } from '../../api/common/shape.js';
import { parseQuantity } from '../../api/common/quantity.js';
import { podQOSClass } from '../../api/core/v1/pod.js';
import type { ContainerConfig, ContainerStatus, Mount, PodSandboxConfig, Runtime, Sandbox } from '../runtime/types.js';
import { resolveImage } from '../runtime/images.js';
import type { RestartBackoff } from './backoff.js';
import { ConfigError, containerEnv, expand, serviceEnv, type NodeCapacity, type PodFacts } from './env.js';
import type { PodEvents } from './events.js';
import type { PodIPAllocator } from './ipam.js';
import { ContainerProber, runHandler, type ProbeKind } from './probes.js';
import { mergeConditions, podConditions, podPhase } from './status.js';
import { apiTime, containersOf, errMessage, goDuration, isSidecar, podRef, rfc3339 } from './util.js';

/** The least time between a pod's deletion request and the kubelet finishing it (see finish()). */
const MIN_TERMINATION_MS = 500;
import { removePodDir, setupVolumes, type PreparedVolume } from './volumes.js';

export interface WorkerContext {
  client: ApiClient;
  runtime: Runtime;
  nodeName: string;
  hostIP: string;
  rootDir: string;
  clusterDNS: string[];
  clusterDomain: string;
  events: PodEvents;
  ipam: PodIPAllocator;
  backoff: RestartBackoff;
  capacity: NodeCapacity;
  log: (line: string) => void;
  /** Milliseconds per probe second (tests shorten it). */
  probeSecondMs: number;
  /** How often configMap/secret/downwardAPI volume contents are refreshed (ms). */
  volumeRefreshMs: number;
  sandboxReady(uid: string, sandbox: Sandbox): void;
  sandboxGone(uid: string, sandbox: Sandbox): void;
  finished(uid: string): void;
}

interface Reason {
  reason: string;
  message: string;
}

const PROBE_NAME: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };
const MIN_GRACE_AFTER_HOOK_S = 2;

function isTerminal(phase: unknown): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

function rvNumber(obj: KObject | undefined): number {
  const n = Number(obj?.metadata.resourceVersion ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function terminatedState(s: ContainerStatus): Obj {
  const t: Obj = { exitCode: s.exitCode ?? (s.state === 'unknown' ? 137 : 0) };
  const reason = s.reason ?? (s.state === 'unknown' ? 'ContainerStatusUnknown' : (s.exitCode ?? 0) === 0 ? 'Completed' : 'Error');
  t.reason = reason;
  if (s.message) t.message = s.message;
  t.startedAt = apiTime(s.startedAt) ?? null;
  t.finishedAt = apiTime(s.finishedAt) ?? apiTime(s.createdAt) ?? null;
  t.containerID = `skiff://${s.id}`;
  return t;
}

export class PodWorker {
  pod: KObject;
  readonly uid: string;
  sandbox?: Sandbox;
  /** Removed from the API (DELETED): tear down without further API calls. */
  private gone = false;
  private finishedFlag = false;
  /** When this kubelet first saw the pod being deleted (see MIN_TERMINATION_MS). */
  private deletionSeenAt?: number;
  private halted = false;
  private busy?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private timerDue = 0;
  private errorDelayMs = 0;

  private view = new Map<string, ContainerStatus[]>();
  private reasons = new Map<string, Reason>();
  private probers = new Map<string, ContainerProber>();
  private volumes?: Map<string, PreparedVolume>;
  private volumesAt = 0;
  private mountFailures = 0;
  private warned = false;
  private initDone = false;
  private deadlineExceeded = false;
  private terminalStopped = false;
  private lastWritten?: Obj;
  private startTime?: string;
  /** Ready/started as last reported, to carry probe results across a kubelet restart. */
  private reported = new Map<string, { ready: boolean; started: boolean }>();

  constructor(
    private ctx: WorkerContext,
    pod: KObject,
    adopted?: Sandbox,
  ) {
    this.pod = pod;
    this.uid = pod.metadata.uid!;
    this.sandbox = adopted;
    const st = asObj(pod.status) ?? {};
    this.startTime = asStr(st.startTime);
    for (const key of ['containerStatuses', 'initContainerStatuses']) {
      for (const cs of asArr(st[key]).map(asObj)) {
        const id = asStr(cs?.containerID)?.replace(/^skiff:\/\//, '');
        if (id) this.reported.set(id, { ready: cs!.ready === true, started: cs!.started === true });
      }
    }
  }

  get ip(): string | undefined {
    return this.sandbox?.config.ip;
  }

  get isFinished(): boolean {
    return this.finishedFlag;
  }

  private get spec(): Obj {
    return asObj(this.pod.spec) ?? {};
  }

  private get ns(): string {
    return this.pod.metadata.namespace ?? 'default';
  }

  /** A newer version of the pod from the API. */
  update(pod: KObject): void {
    if (rvNumber(pod) >= rvNumber(this.pod)) this.pod = pod;
  }

  /** The pod was removed from the API (force deletion, or its namespace went). */
  markGone(last?: KObject): void {
    if (last && rvNumber(last) >= rvNumber(this.pod)) this.pod = last;
    this.gone = true;
  }

  containerExited(status: ContainerStatus): void {
    const p = this.probers.get(status.id);
    if (p) {
      p.stop();
      this.probers.delete(status.id);
    }
    this.kick();
  }

  /** Queue a sync; syncs of one pod never overlap. */
  kick(): void {
    if (this.finishedFlag || this.halted) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.sync();
          this.errorDelayMs = 0;
        } catch (e) {
          this.ctx.log(`kubelet: sync of pod ${this.ns}/${this.pod.metadata.name} failed: ${errMessage(e)}`);
          this.retryLater();
        }
      } while (this.again && !this.finishedFlag && !this.halted);
    } finally {
      this.busy = undefined;
    }
  }

  /** Resolves when no sync is running. */
  async idle(): Promise<void> {
    while (this.busy) await this.busy;
  }

  private requeueAfter(ms: number): void {
    if (this.finishedFlag || this.halted) return;
    const due = Date.now() + ms;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, Math.max(0, ms));
    this.timer.unref?.();
  }

  private retryLater(): void {
    this.errorDelayMs = Math.min(30_000, this.errorDelayMs ? this.errorDelayMs * 2 : 1000);
    this.requeueAfter(this.errorDelayMs);
  }

  /** Stop syncing and probing (the manager stops; containers keep running). */
  halt(): void {
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const p of this.probers.values()) p.stop();
    this.probers.clear();
  }

  // -------------------------------------------------------------------------------------------
  // The sync

  private async sync(): Promise<void> {
    if (this.finishedFlag || this.halted) return;
    if (this.gone) {
      await this.teardown(this.deletionGrace(), false);
      return;
    }
    if (this.pod.metadata.deletionTimestamp) {
      this.deletionSeenAt ??= Date.now();
      await this.teardown(this.deletionGrace(), true);
      return;
    }
    const status = asObj(this.pod.status) ?? {};
    if (!this.startTime) this.startTime = asStr(status.startTime) ?? rfc3339();

    if (isTerminal(status.phase) || this.deadlineExceeded) {
      await this.stopTerminal();
      await this.refresh();
      await this.writeStatus();
      return;
    }

    // activeDeadlineSeconds
    const ads = asNum(this.spec.activeDeadlineSeconds);
    if (ads !== undefined) {
      const left = Date.parse(this.startTime) + ads * 1000 - Date.now();
      if (left <= 0) {
        this.deadlineExceeded = true;
        this.ctx.events.record(this.pod, 'Normal', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline');
        await this.stopTerminal();
        await this.refresh();
        await this.writeStatus();
        return;
      }
      this.requeueAfter(left + 10);
    }

    if (!(await this.ensureSandbox())) {
      await this.refresh();
      await this.writeStatus();
      return;
    }
    if (!(await this.ensureVolumes())) {
      await this.refresh();
      await this.writeStatus();
      return;
    }
    await this.refresh();
    this.ensureProbers();

    const policy = asStr(this.spec.restartPolicy) ?? 'Always';
    const inits = containersOf(this.spec, 'initContainers');
    const apps = containersOf(this.spec, 'containers');
    if (!this.initDone && apps.some((c) => (this.view.get(c.name as string) ?? []).length > 0)) this.initDone = true;

    let blocked = false;
    for (const c of inits) {
      const name = c.name as string;
      const latest = this.latest(name);
      if (isSidecar(c)) {
        if (latest?.state === 'running') {
          await this.checkProbeKills(c, latest);
          if (!this.initDone && !(this.probers.get(latest.id)?.started ?? true)) {
            blocked = true;
            break;
          }
          continue;
        }
        await this.startOrBackoff(c, latest, true);
        if (!this.initDone) {
          blocked = true;
          break;
        }
        continue;
      }
      if (this.initDone) continue;
      if (!latest) {
        await this.startOrBackoff(c, undefined, true);
        blocked = true;
        break;
      }
      if (latest.state === 'running' || latest.state === 'created') {
        blocked = true;
        break;
      }
      if ((latest.exitCode ?? 0) === 0 && latest.state === 'exited') continue;
      if (policy !== 'Never') await this.startOrBackoff(c, latest, true);
      blocked = true;
      break;
    }
    if (!blocked) this.initDone = true;

    if (this.initDone) {
      for (const c of apps) {
        const name = c.name as string;
        const latest = this.latest(name);
        if (!latest) {
          await this.startOrBackoff(c, undefined, false);
          continue;
        }
        if (latest.state === 'running') {
          await this.checkProbeKills(c, latest);
          continue;
        }
        if (latest.state === 'created') continue;
        const code = latest.exitCode ?? 0;
        if (policy === 'Always' || (policy === 'OnFailure' && code !== 0)) await this.startOrBackoff(c, latest, false);
      }
    }

    await this.refresh();
    // A pod whose regular containers are all done for good is terminal: its sidecars stop.
    const built = this.buildStatus();
    if (isTerminal(built.phase)) {
      await this.stopTerminal();
      await this.refresh();
    }
    await this.writeStatus();
  }

  private deletionGrace(): number {
    const d = asNum(this.pod.metadata.deletionGracePeriodSeconds);
    if (d !== undefined) return d;
    return asNum(this.spec.terminationGracePeriodSeconds) ?? 30;
  }

  private latest(name: string): ContainerStatus | undefined {
    return this.view.get(name)?.[0];
  }

  /** Re-read this pod's containers from the runtime. */
  private async refresh(): Promise<void> {
    this.view.clear();
    if (!this.sandbox) return;
    const list = await this.ctx.runtime.listContainers(this.sandbox.id);
    for (const s of list) {
      const arr = this.view.get(s.name) ?? [];
      arr.push(s);
      this.view.set(s.name, arr);
    }
    for (const arr of this.view.values()) arr.sort((a, b) => b.attempt - a.attempt || Date.parse(b.createdAt) - Date.parse(a.createdAt));
    // Keep the latest two instances of each container (state and --previous logs); older ones go.
    for (const arr of this.view.values()) {
      for (const old of arr.splice(2)) {
        if (old.state !== 'running') await this.ctx.runtime.removeContainer(old.id).catch(() => {});
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sandbox and volumes

  private sandboxConfig(ip: string): PodSandboxConfig {
    const spec = this.spec;
    const name = this.pod.metadata.name!;
    const hostNetwork = spec.hostNetwork === true;
    const policy = asStr(spec.dnsPolicy) ?? 'ClusterFirst';
    const domain = this.ctx.clusterDomain;
    const cfg: PodSandboxConfig = {
      uid: this.uid,
      namespace: this.ns,
      name,
      ip,
      hostname: (asStr(spec.hostname) || name).slice(0, 63),
      labels: (asObj(this.pod.metadata.labels) as Record<string, string> | undefined) ?? {},
    };
    const clusterFirst = policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !hostNetwork);
    if (clusterFirst && this.ctx.clusterDNS.length) {
      cfg.dnsServers = [...this.ctx.clusterDNS];
      cfg.dnsSearches = [`${this.ns}.svc.${domain}`, `svc.${domain}`, domain];
    }
    const dnsConfig = asObj(spec.dnsConfig);
    if (dnsConfig) {
      const servers = asArr(dnsConfig.nameservers).map(String);
      const searches = asArr(dnsConfig.searches).map(String);
      if (policy === 'None') {
        cfg.dnsServers = servers;
        cfg.dnsSearches = searches;
      } else {
        if (servers.length) cfg.dnsServers = [...(cfg.dnsServers ?? []), ...servers];
        if (searches.length) cfg.dnsSearches = [...(cfg.dnsSearches ?? []), ...searches];
      }
    }
    return cfg;
  }

  private async ensureSandbox(): Promise<boolean> {
    if (this.sandbox && this.sandboxChecked) return true;
    const hostNetwork = this.spec.hostNetwork === true;
    let ip = this.sandbox?.config.ip;
    let allocated = false;
    try {
      if (!ip) {
        ip = hostNetwork ? this.ctx.hostIP : this.ctx.ipam.allocate();
        allocated = !hostNetwork;
      }
      // An adopted sandbox is looked up again (a stopped one is revived by the runtime).
      const sb = await this.ctx.runtime.runSandbox(this.sandbox?.config ?? this.sandboxConfig(ip));
      this.sandbox = sb;
      this.sandboxChecked = true;
      this.ctx.sandboxReady(this.uid, sb);
      return true;
    } catch (e) {
      if (allocated && ip) this.ctx.ipam.release(ip);
      this.ctx.events.record(this.pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${errMessage(e)}`);
      this.retryLater();
      return false;
    }
  }

  private sandboxChecked = false;

  private facts(): PodFacts {
    return { pod: this.pod, podIP: this.ip ?? '', hostIP: this.ctx.hostIP, capacity: this.ctx.capacity };
  }

  private async ensureVolumes(): Promise<boolean> {
    if (this.volumes && Date.now() - this.volumesAt < this.ctx.volumeRefreshMs) return true;
    const res = await setupVolumes(this.ctx.client, this.facts(), this.ctx.rootDir);
    if (res.errors.length) {
      for (const m of res.errors) this.ctx.events.record(this.pod, 'Warning', 'FailedMount', m);
      if (this.volumes) return true; // a refresh failed: keep running on what was written before
      this.mountFailures++;
      this.requeueAfter(Math.min(30_000, 1000 * 2 ** Math.min(5, this.mountFailures - 1)));
      return false;
    }
    if (!this.volumes && res.unsupported.length) this.ctx.events.record(this.pod, 'Warning', 'UnsupportedVolume', res.unsupported.join('; '));
    this.volumes = res.volumes;
    this.volumesAt = Date.now();
    this.mountFailures = 0;
    this.requeueAfter(this.ctx.volumeRefreshMs);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Containers

  private fieldPath(c: Obj, isInit: boolean): string {
    return `spec.${isInit ? 'initContainers' : 'containers'}{${c.name as string}}`;
  }

  private backoffKey(name: string): string {
    return `${this.uid}/${name}`;
  }

  /** Start a container, or — when its last instance failed recently — wait out the back-off. */
  private async startOrBackoff(c: Obj, last: ContainerStatus | undefined, isInit: boolean): Promise<void> {
    const name = c.name as string;
    if (last && last.state !== 'running') {
      const key = this.backoffKey(name);
      const finished = Date.parse(last.finishedAt ?? last.createdAt) || Date.now();
      const wait = this.ctx.backoff.remaining(key, finished);
      if (wait > 0) {
        const ref = podRef(this.pod);
        this.reasons.set(name, {
          reason: 'CrashLoopBackOff',
          message: `back-off ${goDuration(this.ctx.backoff.current(key))} restarting failed container=${name} pod=${ref}`,
        });
        this.ctx.events.record(this.pod, 'Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${ref}`, this.fieldPath(c, isInit));
        this.requeueAfter(wait + 5);
        return;
      }
      this.ctx.backoff.next(key, finished);
    }
    await this.startContainer(c, last ? last.attempt + 1 : 0, isInit);
  }

  private async buildConfig(c: Obj, attempt: number): Promise<ContainerConfig> {
    const spec = this.spec;
    const name = c.name as string;
    const image = asStr(c.image) ?? '';
    const services = await serviceEnv(this.ctx.client, this.ns, spec.enableServiceLinks !== false);
    const { env, invalidNames } = await containerEnv(this.ctx.client, this.facts(), c, services);
    if (invalidNames.length)
      this.ctx.events.record(
        this.pod,
        'Warning',
        'InvalidEnvironmentVariableNames',
        `Keys [${invalidNames.join(', ')}] from the EnvFrom were skipped since they are considered invalid environment variable names.`,
      );
    const lookup = (n: string) => env[n];
    let command = asArr(c.command).map((x) => expand(String(x), lookup));
    let args = asArr(c.args).map((x) => expand(String(x), lookup));
    let workingDir = asStr(c.workingDir);
    if (!command.length) {
      const img = resolveImage(image);
      if (!img) throw new Error(`image "${image}" has no entrypoint known to the process runtime; give the container a command`);
      command = [...img.command];
      if (!args.length) args = [...img.args];
      workingDir ??= img.workingDir;
      if (!command.length) {
        command = args;
        args = [];
      }
      if (!command.length) throw new Error(`image "${image}": no command specified`);
    }
    const mounts: Mount[] = [];
    for (const vm of asArr(c.volumeMounts).map(asObj)) {
      if (!vm) continue;
      const vname = asStr(vm.name) ?? '';
      const vol = this.volumes?.get(vname);
      if (!vol) throw new ConfigError(`cannot find volume "${vname}" to mount into container "${name}"`);
      const m: Mount = { hostPath: vol.hostPath, containerPath: asStr(vm.mountPath) ?? '', readOnly: vm.readOnly === true || vol.readOnly };
      const sub = asStr(vm.subPath) || (asStr(vm.subPathExpr) ? expand(asStr(vm.subPathExpr)!, lookup) : undefined);
      if (sub) m.subPath = sub;
      mounts.push(m);
    }
    const limits = asObj(dig(c, 'resources', 'limits'));
    const mem = parseQuantity(limits?.memory);
    const cpu = parseQuantity(limits?.cpu);
    return {
      name,
      image,
      command,
      args,
      env,
      workingDir,
      stdin: c.stdin === true,
      stdinOnce: c.stdinOnce === true,
      tty: c.tty === true,
      mounts,
      memoryLimitBytes: mem ? Math.ceil(Number(mem.nanos) / 1e9) : undefined,
      cpuLimitMillis: cpu ? Math.ceil(Number(cpu.nanos) / 1e6) : undefined,
      attempt,
      ports: asArr(c.ports)
        .map(asObj)
        .filter((p): p is Obj => !!p)
        .map((p) => ({ containerPort: asNum(p.containerPort) ?? 0, protocol: asStr(p.protocol) ?? 'TCP', ...(asStr(p.name) ? { name: p.name as string } : {}) })),
    };
  }

  private failStart(c: Obj, isInit: boolean, reason: string, message: string): void {
    this.reasons.set(c.name as string, { reason, message });
    this.ctx.events.record(this.pod, 'Warning', 'Failed', `Error: ${message}`, this.fieldPath(c, isInit));
    this.retryLater();
  }

  private async startContainer(c: Obj, attempt: number, isInit: boolean): Promise<boolean> {
    const name = c.name as string;
    const fp = this.fieldPath(c, isInit);
    const rt = this.ctx.runtime;
    let config: ContainerConfig;
    try {
      config = await this.buildConfig(c, attempt);
    } catch (e) {
      if (e instanceof StatusError) throw e; // the API failed us: retry the whole sync
      this.failStart(c, isInit, e instanceof ConfigError ? 'CreateContainerConfigError' : 'CreateContainerError', errMessage(e));
      return false;
    }
    if (!this.warned) {
      const problems = rt.unsupported(config);
      if (problems.length) {
        this.warned = true;
        this.ctx.events.record(this.pod, 'Warning', 'RuntimeLimitation', `The ${rt.name} runtime cannot honour: ${problems.join('; ')}`);
      }
    }
    this.ctx.events.record(this.pod, 'Normal', 'Pulled', `Container image "${config.image}" already present on machine`, fp);
    let id: string;
    try {
      id = await rt.createContainer(this.sandbox!, config);
    } catch (e) {
      this.failStart(c, isInit, 'CreateContainerError', errMessage(e));
      return false;
    }
    this.ctx.events.record(this.pod, 'Normal', 'Created', `Created container: ${name}`, fp);
    try {
      await rt.startContainer(id);
    } catch (e) {
      this.reasons.delete(name);
      this.ctx.events.record(this.pod, 'Warning', 'Failed', `Error: ${errMessage(e)}`, fp);
      return false;
    }
    this.reasons.delete(name);
    this.ctx.events.record(this.pod, 'Normal', 'Started', `Started container ${name}`, fp);

    const postStart = asObj(dig(c, 'lifecycle', 'postStart'));
    if (postStart) {
      const grace = asNum(this.spec.terminationGracePeriodSeconds) ?? 30;
      const res = await runHandler(postStart, { runtime: rt, containerId: id, podIP: this.ip ?? '', container: c }, Math.max(1, grace) * 1000);
      if (!res.ok) {
        const msg = `PostStartHook failed${res.message ? `: ${res.message}` : ''}`;
        this.ctx.events.record(this.pod, 'Warning', 'FailedPostStartHook', msg, fp);
        this.ctx.events.record(this.pod, 'Normal', 'Killing', `FailedPostStartHook`, fp);
        await rt.stopContainer(id, grace).catch(() => {});
        this.reasons.set(name, { reason: 'PostStartHookError', message: msg });
        return false;
      }
    }
    const st = await rt.containerStatus(id);
    if (st?.state === 'running') this.newProber(c, st, isInit);
    return true;
  }

  private newProber(c: Obj, st: ContainerStatus, isInit: boolean, seed?: { ready: boolean; started: boolean }): void {
    if (this.probers.has(st.id)) return;
    const fp = this.fieldPath(c, isInit);
    const prober = new ContainerProber(
      { runtime: this.ctx.runtime, containerId: st.id, podIP: this.ip ?? '', container: c },
      Date.parse(st.startedAt ?? st.createdAt) || Date.now(),
      {
        changed: () => this.kick(),
        failed: (kind, message) =>
          this.ctx.events.record(this.pod, 'Warning', 'Unhealthy', `${PROBE_NAME[kind]} probe failed: ${message}`.trimEnd(), fp),
      },
      { secondMs: this.ctx.probeSecondMs, ...(seed?.started ? { started: true } : {}), ...(seed ? { ready: seed.ready } : {}) },
    );
    this.probers.set(st.id, prober);
    prober.start();
  }

  /** Probers for running containers that have none (adopted after a kubelet restart); drop stale ones. */
  private ensureProbers(): void {
    const running = new Set<string>();
    const specs: [Obj, boolean][] = [
      ...containersOf(this.spec, 'initContainers')
        .filter(isSidecar)
        .map((c): [Obj, boolean] => [c, true]),
      ...containersOf(this.spec, 'containers').map((c): [Obj, boolean] => [c, false]),
    ];
    for (const [c, isInit] of specs) {
      const latest = this.latest(c.name as string);
      if (latest?.state !== 'running') continue;
      running.add(latest.id);
      if (!this.probers.has(latest.id)) this.newProber(c, latest, isInit, this.reported.get(latest.id));
    }
    for (const [id, p] of this.probers)
      if (!running.has(id)) {
        p.stop();
        this.probers.delete(id);
      }
  }

  /** A failed liveness or startup probe kills the container (the restart policy then applies). */
  private async checkProbeKills(c: Obj, inst: ContainerStatus): Promise<void> {
    const p = this.probers.get(inst.id);
    if (!p || !(p.livenessFailed || p.startupFailed)) return;
    const name = c.name as string;
    const kind = p.startupFailed ? 'startup' : 'liveness';
    const probe = asObj(c[kind === 'startup' ? 'startupProbe' : 'livenessProbe']);
    const grace = asNum(probe?.terminationGracePeriodSeconds) ?? asNum(this.spec.terminationGracePeriodSeconds) ?? 30;
    await this.killContainer(c, inst, grace, `Container ${name} failed ${kind} probe, will be restarted`, this.isInitSpec(c));
    await this.refresh();
  }

  private isInitSpec(c: Obj): boolean {
    return containersOf(this.spec, 'initContainers').some((x) => x.name === c.name);
  }

  /** preStop (within the grace period), then SIGTERM and SIGKILL after what is left of it. */
  private async killContainer(c: Obj | undefined, inst: ContainerStatus, graceS: number, message: string, isInit: boolean): Promise<void> {
    const p = this.probers.get(inst.id);
    if (p) {
      p.stop();
      this.probers.delete(inst.id);
    }
    const fp = c ? this.fieldPath(c, isInit) : undefined;
    this.ctx.events.record(this.pod, 'Normal', 'Killing', message, fp);
    const began = Date.now();
    const preStop = c ? asObj(dig(c, 'lifecycle', 'preStop')) : undefined;
    let grace = graceS;
    if (preStop && graceS > 0 && inst.state === 'running') {
      const res = await runHandler(preStop, { runtime: this.ctx.runtime, containerId: inst.id, podIP: this.ip ?? '', container: c! }, graceS * 1000);
      if (!res.ok) this.ctx.events.record(this.pod, 'Warning', 'FailedPreStopHook', `PreStopHook failed${res.message ? `: ${res.message}` : ''}`, fp);
      grace = Math.max(MIN_GRACE_AFTER_HOOK_S, Math.ceil(graceS - (Date.now() - began) / 1000));
    }
    await this.ctx.runtime.stopContainer(inst.id, Math.max(0, grace));
  }

  /** Stop every running container: app containers together, then sidecars in reverse order. */
  private async killAll(graceS: number): Promise<void> {
    if (!this.sandbox) return;
    await this.refresh();
    const apps = containersOf(this.spec, 'containers');
    const inits = containersOf(this.spec, 'initContainers');
    const known = new Set([...apps, ...inits].map((c) => c.name as string));
    const running = (name: string) => {
      const l = this.latest(name);
      return l && (l.state === 'running' || l.state === 'created') ? l : undefined;
    };
    const began = Date.now();
    const left = () => (graceS <= 0 ? 0 : Math.max(MIN_GRACE_AFTER_HOOK_S, Math.ceil(graceS - (Date.now() - began) / 1000)));
    await Promise.all(
      [...apps, ...inits.filter((c) => !isSidecar(c))].map(async (c) => {
        const inst = running(c.name as string);
        if (inst) await this.killContainer(c, inst, graceS, `Stopping container ${c.name as string}`, !apps.includes(c));
      }),
    );
    for (const c of [...inits].reverse().filter(isSidecar)) {
      const inst = running(c.name as string);
      if (inst) await this.killContainer(c, inst, left(), `Stopping container ${c.name as string}`, true);
    }
    // Anything else the runtime still runs in this sandbox (a container no longer in the spec).
    for (const [name, arr] of this.view)
      if (!known.has(name) && arr[0] && arr[0].state === 'running') await this.ctx.runtime.stopContainer(arr[0].id, 0).catch(() => {});
  }

  /** A terminal pod: stop what still runs and the sandbox (kept, with its logs, until the pod goes). */
  private async stopTerminal(): Promise<void> {
    if (this.terminalStopped) return;
    await this.killAll(asNum(this.spec.terminationGracePeriodSeconds) ?? 30);
    for (const p of this.probers.values()) p.stop();
    this.probers.clear();
    if (this.sandbox) await this.ctx.runtime.stopSandbox(this.sandbox.id).catch((e) => this.ctx.log(`kubelet: stop sandbox: ${errMessage(e)}`));
    this.terminalStopped = true;
  }

  /** Stop everything for good; with `viaApi`, write the final status and finish the deletion. */
  private async teardown(graceS: number, viaApi: boolean): Promise<void> {
    await this.killAll(graceS);
    for (const p of this.probers.values()) p.stop();
    this.probers.clear();
    if (viaApi && this.sandbox) {
      await this.refresh();
      this.terminalPhaseOnDeletion = true;
      await this.writeStatus().catch(() => {});
    }
    if (this.sandbox) {
      const sb = this.sandbox;
      await this.ctx.runtime.stopSandbox(sb.id).catch((e) => this.ctx.log(`kubelet: stop sandbox: ${errMessage(e)}`));
      await this.ctx.runtime.removeSandbox(sb.id).catch((e) => this.ctx.log(`kubelet: remove sandbox: ${errMessage(e)}`));
      if (this.spec.hostNetwork !== true) this.ctx.ipam.release(sb.config.ip);
      this.ctx.sandboxGone(this.uid, sb);
      this.sandbox = undefined;
    }
    await removePodDir(this.ctx.rootDir, this.uid).catch(() => {});
    this.ctx.backoff.forgetPrefix(`${this.uid}/`);
    if (viaApi) {
      // kubectl delete reads the pod once more and only then starts watching for its DELETED
      // event; a pod gone (and recreated under the same name by a StatefulSet) inside that gap
      // leaves kubectl waiting forever. Real kubelets never finish that fast; neither do we.
      // Measured from when this kubelet saw the request: the API's timestamps have whole seconds.
      const wait = MIN_TERMINATION_MS - (Date.now() - (this.deletionSeenAt ?? Date.now()));
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        await this.ctx.client.delete(R.pods, this.ns, this.pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
      } catch (e) {
        if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
      }
    }
    this.finishedFlag = true;
    if (this.timer) clearTimeout(this.timer);
    this.ctx.finished(this.uid);
  }

  private terminalPhaseOnDeletion = false;

  /** Stop every container for a cluster shutdown (no API calls; the sandbox stays for adoption). */
  async shutdown(graceOverride?: number): Promise<void> {
    this.halt();
    await this.idle();
    const grace = graceOverride ?? asNum(this.spec.terminationGracePeriodSeconds) ?? 30;
    await this.killAll(grace);
    if (this.sandbox) await this.ctx.runtime.stopSandbox(this.sandbox.id).catch(() => {});
  }

  // -------------------------------------------------------------------------------------------
  // Status

  private containerStatus(c: Obj, isInit: boolean, hasInits: boolean): Obj {
    const name = c.name as string;
    const list = this.view.get(name) ?? [];
    const [latest, previous] = list;
    const out: Obj = {
      name,
      image: asStr(c.image) ?? '',
      imageID: latest ? `skiff://image/${asStr(c.image) ?? ''}` : '',
      started: false,
      ready: false,
      restartCount: latest?.attempt ?? 0,
      state: { waiting: { reason: hasInits ? 'PodInitializing' : 'ContainerCreating' } },
      lastState: {},
    };
    if (latest) out.containerID = `skiff://${latest.id}`;
    if (previous && previous.state !== 'running') out.lastState = { terminated: terminatedState(previous) };
    if (latest?.state === 'running') {
      const p = this.probers.get(latest.id);
      const started = p ? p.started : (this.reported.get(latest.id)?.started ?? true);
      out.started = started;
      out.ready = started && (p ? (p.hasReadinessProbe ? p.ready : true) : (this.reported.get(latest.id)?.ready ?? false));
      out.state = { running: { startedAt: apiTime(latest.startedAt) ?? apiTime(latest.createdAt) ?? null } };
    } else if (latest && (latest.state === 'exited' || latest.state === 'unknown')) {
      out.state = { terminated: terminatedState(latest) };
      if (isInit && !isSidecar(c) && latest.exitCode === 0) out.ready = true;
    } else if (latest?.state === 'created') out.state = { waiting: { reason: 'ContainerCreating' } };
    const r = this.reasons.get(name);
    if (r && latest?.state !== 'running') {
      if (asObj(out.state)?.terminated) out.lastState = out.state;
      out.state = { waiting: { reason: r.reason, message: r.message } };
      out.ready = false;
    }
    return out;
  }

  private buildStatus(): Obj {
    const spec = this.spec;
    const old = asObj(this.pod.status) ?? {};
    const inits = containersOf(spec, 'initContainers');
    const hasInits = inits.length > 0;
    const initStatuses = inits.map((c) => this.containerStatus(c, true, hasInits));
    const statuses = containersOf(spec, 'containers').map((c) => this.containerStatus(c, false, hasInits));
    let phase: string;
    if (isTerminal(old.phase)) phase = old.phase as string;
    else if (this.deadlineExceeded) phase = 'Failed';
    else {
      phase = podPhase(spec, initStatuses, statuses, this.terminalPhaseOnDeletion);
      if (this.terminalPhaseOnDeletion && !isTerminal(phase)) phase = 'Failed';
    }
    const sandboxReady = !!this.sandbox && !this.terminalStopped && !this.terminalPhaseOnDeletion;
    const existing = asArr(old.conditions)
      .map(asObj)
      .filter((c): c is Obj => !!c);
    const conditions = mergeConditions(podConditions(spec, initStatuses, statuses, phase as 'Running', sandboxReady, existing), existing);
    const status: Obj = {};
    for (const k of ['nominatedNodeName', 'resize', 'ephemeralContainerStatuses', 'resourceClaimStatuses']) if (old[k] !== undefined) status[k] = old[k];
    status.phase = phase;
    status.conditions = conditions;
    status.hostIP = this.ctx.hostIP;
    status.hostIPs = [{ ip: this.ctx.hostIP }];
    const ip = this.ip ?? asStr(old.podIP);
    if (ip) {
      status.podIP = ip;
      status.podIPs = [{ ip }];
    }
    status.startTime = this.startTime ?? rfc3339();
    if (hasInits) status.initContainerStatuses = initStatuses;
    status.containerStatuses = statuses;
    status.qosClass = podQOSClass(spec);
    if (this.deadlineExceeded || old.reason === 'DeadlineExceeded') {
      status.reason = 'DeadlineExceeded';
      status.message = 'Pod was active on the node longer than the specified deadline';
    } else if (isTerminal(old.phase)) {
      if (old.reason !== undefined) status.reason = old.reason;
      if (old.message !== undefined) status.message = old.message;
    }
    return status;
  }

  /** Write the status when it changed (and only then), through the status subresource. */
  private async writeStatus(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const status = this.buildStatus();
      // Equal to what the API has, or to what we wrote last (the server may normalise it): nothing to do.
      if (jsonEqual(status, this.pod.status) || (attempt === 0 && this.lastWritten && jsonEqual(status, this.lastWritten))) return;
      try {
        const saved = await this.ctx.client.update(R.pods, this.ns, { ...this.pod, status }, 'status');
        this.lastWritten = status;
        if (rvNumber(saved) >= rvNumber(this.pod)) this.pod = saved;
        return;
      } catch (e) {
        if (e instanceof StatusError && e.code === 409) {
          this.pod = await this.ctx.client.get(R.pods, this.ns, this.pod.metadata.name!);
          if (this.pod.metadata.uid !== this.uid) return;
          continue;
        }
        if (e instanceof StatusError && e.code === 404) return;
        throw e;
      }
    }
  }

  /** The id of a container instance (latest, or the one before with `previous`). */
  containerId(name: string, previous = false): string | undefined {
    return this.view.get(name)?.[previous ? 1 : 0]?.id;
  }
}
