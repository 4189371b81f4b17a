// Pod IPs from the node's pod CIDR (IPv4). The network address and the first host address (the
// "gateway" upstream's bridge plugins take) are never handed out; nor is the broadcast address.
// Allocation rotates through the range so a just-released IP is not reused at once.

function toInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`invalid IPv4 address ${ip}`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export class PodIPAllocator {
  private first: number;
  private last: number;
  private next: number;
  private held = new Set<number>();

  constructor(cidr: string) {
    const [addr, bitsText] = cidr.split('/');
    const bits = Number(bitsText ?? 32);
    if (!Number.isInteger(bits) || bits < 0 || bits > 30) throw new Error(`pod CIDR ${cidr}: prefix must be /0../30`);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const network = (toInt(addr) & mask) >>> 0;
    const broadcast = (network | (~mask >>> 0)) >>> 0;
    this.first = network + 2;
    this.last = broadcast - 1;
    this.next = this.first;
  }

  /** The next free address; throws when the range is exhausted. */
  allocate(): string {
    const size = this.last - this.first + 1;
    for (let i = 0; i < size; i++) {
      const n = this.next;
      this.next = n >= this.last ? this.first : n + 1;
      if (!this.held.has(n)) {
        this.held.add(n);
        return toIp(n);
      }
    }
    throw new Error('no pod IP left in the node pod CIDR');
  }

  /** Mark an address as held (an adopted sandbox keeps its IP). */
  reserve(ip: string): void {
    try {
      this.held.add(toInt(ip));
    } catch {
      /* not an IPv4 address we manage */
    }
  }

  release(ip: string): void {
    try {
      this.held.delete(toInt(ip));
    } catch {
      /* ignore */
    }
  }

  isHeld(ip: string): boolean {
    try {
      return this.held.has(toInt(ip));
    } catch {
      return false;
    }
  }

  get size(): number {
    return this.held.size;
  }
}
