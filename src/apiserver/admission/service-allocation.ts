// Cluster IPs and node ports for Services: allocated at admission, released on delete (or when
// the write that reserved them fails), rebuilt from the stored Services at start.
import type { KindSpec } from '../../api/types.js';
import { AllocationError, ClusterIPAllocator, NodePortAllocator } from '../../api/core/v1/service-allocator.js';
import { errors } from '../../machinery/errors.js';
import { isPlainObject, type KObject } from '../../machinery/object.js';
import { fieldErr, type FieldError } from '../../machinery/validation.js';
import type { RequestContext } from '../context.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';

interface ServicePort {
  nodePort?: number;
  [k: string]: unknown;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
}

function isService(spec: KindSpec): boolean {
  return spec.group === '' && spec.plural === 'services';
}

function specOf(obj: KObject): ServiceSpec {
  return (isPlainObject(obj.spec) ? obj.spec : {}) as ServiceSpec;
}

function wantsNodePorts(s: ServiceSpec): boolean {
  return s.type === 'NodePort' || s.type === 'LoadBalancer';
}

function hasClusterIP(s: ServiceSpec): boolean {
  return s.type !== 'ExternalName' && s.clusterIP !== 'None';
}

function ports(s: ServiceSpec): ServicePort[] {
  return Array.isArray(s.ports) ? s.ports.filter(isPlainObject) : [];
}

export class ServiceAllocation implements AdmissionPlugin {
  readonly name = 'ServiceAllocation';
  readonly ips: ClusterIPAllocator;
  readonly nodePorts: NodePortAllocator;

  constructor(serviceCidr: string, nodePortRange: [number, number] = [30000, 32767]) {
    this.ips = new ClusterIPAllocator(serviceCidr, { randomStart: true });
    this.nodePorts = new NodePortAllocator(...nodePortRange);
  }

  /** Claim what stored Services hold (at start). */
  async rebuild(svc: Resources): Promise<void> {
    const { items } = await svc.list(svc.spec('', 'v1', 'services'), undefined);
    for (const o of items) this.claim(specOf(o));
  }

  private claim(s: ServiceSpec) {
    const ignore = (f: () => void) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof AllocationError)) throw e;
      }
    };
    if (hasClusterIP(s) && s.clusterIP && s.clusterIP !== this.ips.kubernetesServiceIP) ignore(() => this.ips.allocateSpecific(s.clusterIP!));
    for (const p of ports(s)) if (typeof p.nodePort === 'number' && p.nodePort) ignore(() => this.nodePorts.allocateSpecific(p.nodePort!));
  }

  private release(s: ServiceSpec) {
    if (hasClusterIP(s) && s.clusterIP) this.ips.release(s.clusterIP);
    for (const p of ports(s)) if (typeof p.nodePort === 'number') this.nodePorts.release(p.nodePort);
  }

  async admit(op: Operation, spec: KindSpec, obj: KObject, old: KObject | undefined, ctx: RequestContext): Promise<void> {
    if (!isService(spec) || op === 'DELETE') return;
    const s = specOf(obj);
    const before = old ? specOf(old) : undefined;
    const errs: FieldError[] = [];
    const taken: (() => void)[] = []; // undo list if anything fails

    if (hasClusterIP(s) && !(before && hasClusterIP(before) && before.clusterIP)) {
      if (s.clusterIP && s.clusterIP !== '') {
        if (s.clusterIP !== this.ips.kubernetesServiceIP || obj.metadata.name !== 'kubernetes' || obj.metadata.namespace !== 'default') {
          try {
            this.ips.allocateSpecific(s.clusterIP);
            const ip = s.clusterIP;
            taken.push(() => this.ips.release(ip));
          } catch (e) {
            if (!(e instanceof AllocationError)) throw e;
            errs.push(fieldErr.invalid('spec.clusterIPs', s.clusterIPs ?? [s.clusterIP], `failed to allocate IP ${s.clusterIP}: ${e.message}`));
          }
        }
      } else {
        try {
          const ip = this.ips.allocate();
          taken.push(() => this.ips.release(ip));
          s.clusterIP = ip;
        } catch (e) {
          if (!(e instanceof AllocationError)) throw e;
          throw errors.internal(`failed to allocate a serviceIP: ${e.message}`);
        }
      }
      if (s.clusterIP) s.clusterIPs = [s.clusterIP];
    }
    if (before && hasClusterIP(before) && !hasClusterIP(s) && before.clusterIP) {
      // Becoming ExternalName gives the address back.
      this.ips.release(before.clusterIP);
      delete s.clusterIP;
      delete s.clusterIPs;
    }

    const oldPorts = new Set(before && wantsNodePorts(before) ? ports(before).map((p) => p.nodePort).filter((n): n is number => typeof n === 'number') : []);
    if (wantsNodePorts(s)) {
      ports(s).forEach((p, i) => {
        if (typeof p.nodePort === 'number' && p.nodePort !== 0) {
          if (oldPorts.has(p.nodePort)) {
            oldPorts.delete(p.nodePort);
            return;
          }
          try {
            this.nodePorts.allocateSpecific(p.nodePort);
            const n = p.nodePort;
            taken.push(() => this.nodePorts.release(n));
          } catch (e) {
            if (!(e instanceof AllocationError)) throw e;
            errs.push(fieldErr.invalid(`spec.ports[${i}].nodePort`, p.nodePort, e.message));
          }
        } else {
          try {
            p.nodePort = this.nodePorts.allocate();
            const n = p.nodePort;
            taken.push(() => this.nodePorts.release(n));
          } catch (e) {
            if (!(e instanceof AllocationError)) throw e;
            errs.push(fieldErr.invalid(`spec.ports[${i}].nodePort`, 0, e.message));
          }
        }
      });
    } else {
      for (const p of ports(s)) delete p.nodePort;
    }
    if (errs.length) {
      for (const undo of taken) undo();
      throw errors.invalid({ group: '', kind: 'Service' }, obj.metadata.name ?? '', errs);
    }
    // Ports the update dropped go back to the pool.
    for (const n of oldPorts) this.nodePorts.release(n);
    if (ctx.dryRun) for (const undo of taken) undo();
  }

  deleted(spec: KindSpec, obj: KObject): void {
    if (isService(spec)) this.release(specOf(obj));
  }
}
