// Pod CIDRs for Nodes: each registering node gets the next free /24 of the cluster's pod subnet
// (upstream's node IPAM controller does this right after registration; doing it at admission
// means a kubelet reads its range back from its own create). Released when the node goes.
// A node's own address is the first of its block (like a bridge's gateway address).
import type { KindSpec } from '../../api/types.js';
import { errors } from '../../machinery/errors.js';
import { isPlainObject, type KObject } from '../../machinery/object.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export class NodeIpam implements AdmissionPlugin {
  readonly name = 'NodeIPAM';
  private base: number;
  private blocks: number;
  private used = new Set<number>();

  /** `podSubnet` is an IPv4 CIDR of /8 to /24; nodes get /24 blocks of it. */
  constructor(podSubnet: string) {
    const [ip, bits] = podSubnet.split('/');
    const prefix = Number(bits);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip ?? '') || !(prefix >= 8 && prefix <= 24)) throw new Error(`unsupported pod subnet ${podSubnet}: need an IPv4 /8 to /24`);
    this.base = (ipToInt(ip) >>> (32 - prefix)) << (32 - prefix);
    this.blocks = 2 ** (24 - prefix);
  }

  private indexOf(cidr: unknown): number | undefined {
    if (typeof cidr !== 'string' || !cidr.endsWith('/24')) return undefined;
    const i = (ipToInt(cidr.split('/')[0]) - this.base) / 256;
    return Number.isInteger(i) && i >= 0 && i < this.blocks ? i : undefined;
  }

  async rebuild(svc: Resources): Promise<void> {
    const { items } = await svc.list(svc.spec('', 'v1', 'nodes'), undefined);
    for (const n of items) {
      const i = this.indexOf((n.spec as { podCIDR?: string } | undefined)?.podCIDR);
      if (i !== undefined) this.used.add(i);
    }
  }

  async admit(op: Operation, spec: KindSpec, obj: KObject): Promise<void> {
    if (op !== 'CREATE' || spec.group !== '' || spec.plural !== 'nodes') return;
    const nodeSpec = (isPlainObject(obj.spec) ? obj.spec : (obj.spec = {})) as { podCIDR?: string; podCIDRs?: string[] };
    const given = this.indexOf(nodeSpec.podCIDR);
    if (nodeSpec.podCIDR && given !== undefined) {
      this.used.add(given);
      return;
    }
    if (nodeSpec.podCIDR) return; // a range outside ours: the node's own business
    // Blocks are tried from a random start, as upstream allocates: two clusters sharing the host's
    // loopback network (the process runtime has no network isolation) rarely pick the same block.
    const start = 1 + Math.floor(Math.random() * (this.blocks - 1));
    for (let k = 0; k < this.blocks - 1; k++) {
      // Block 0 stays free: its first addresses look like network addresses to people.
      const i = 1 + ((start - 1 + k) % (this.blocks - 1));
      if (this.used.has(i)) continue;
      this.used.add(i);
      nodeSpec.podCIDR = `${intToIp(this.base + i * 256)}/24`;
      nodeSpec.podCIDRs = [nodeSpec.podCIDR];
      return;
    }
    throw errors.internal('no pod CIDR left to give this node');
  }

  deleted(spec: KindSpec, obj: KObject): void {
    if (spec.group !== '' || spec.plural !== 'nodes') return;
    const i = this.indexOf((obj.spec as { podCIDR?: string } | undefined)?.podCIDR);
    if (i !== undefined) this.used.delete(i);
  }
}
