// In-memory allocators for Service cluster IPs and node ports. The API server rebuilds them from
// stored Services at start (allocateSpecific for each) and calls them on create/update/delete.
// Allocation is sequential from a moving cursor so results are deterministic and freed values
// are not handed out again immediately.

/** Why an allocation failed; the API server turns these into 422 field errors with `message`. */
export class AllocationError extends Error {
  constructor(
    readonly reason: 'taken' | 'range' | 'full' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'AllocationError';
  }
}

function parseIPv4(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  // Leading zeros are ambiguous (octal in some parsers); upstream rejects them in new objects.
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Hands out IPv4 addresses from a service CIDR (e.g. `10.96.0.0/12`). */
export class ClusterIPAllocator {
  readonly cidr: string;
  /** First and last usable address (network and broadcast addresses excluded). */
  private readonly first: number;
  private readonly last: number;
  private readonly used = new Set<number>();
  private cursor: number;

  /**
   * `randomStart`: begin at a random address, as upstream allocates randomly — two clusters
   * sharing the host's loopback network then rarely hand out the same service IP.
   */
  constructor(cidr: string, opts: { randomStart?: boolean } = {}) {
    const [addr, bitsText] = cidr.split('/');
    const base = parseIPv4(addr ?? '');
    const bits = Number(bitsText);
    if (base === undefined || !/^\d+$/.test(bitsText ?? '') || bits < 1 || bits > 30)
      throw new AllocationError('invalid', `invalid service CIDR ${JSON.stringify(cidr)}: need an IPv4 network with a prefix of /1 to /30`);
    const size = 2 ** (32 - bits);
    const network = base - (base % size);
    this.cidr = `${formatIPv4(network)}/${bits}`;
    this.first = network + 1;
    this.last = network + size - 2;
    this.cursor = this.first + 1 + (opts.randomStart ? Math.floor(Math.random() * (this.last - this.first)) : 0);
  }

  /** The address reserved for the `kubernetes` Service: the first usable one. allocate() never returns it. */
  get kubernetesServiceIP(): string {
    return formatIPv4(this.first);
  }

  /** Whether `ip` is a usable address of this range. */
  contains(ip: string): boolean {
    const n = parseIPv4(ip);
    return n !== undefined && n >= this.first && n <= this.last;
  }

  isAllocated(ip: string): boolean {
    const n = parseIPv4(ip);
    return n !== undefined && this.used.has(n);
  }

  /** Next free address (skipping the reserved first one); throws AllocationError('full') when exhausted. */
  allocate(): string {
    const span = this.last - this.first; // candidates: first+1 .. last
    for (let i = 0; i < span; i++) {
      const candidate = this.first + 1 + ((this.cursor - this.first - 1 + i) % span);
      if (!this.used.has(candidate)) {
        this.used.add(candidate);
        this.cursor = candidate + 1 > this.last ? this.first + 1 : candidate + 1;
        return formatIPv4(candidate);
      }
    }
    throw new AllocationError('full', `range is full: no IP addresses left in ${this.cidr}`);
  }

  /** Claim a given address (user-requested clusterIP, or rebuilding at start). */
  allocateSpecific(ip: string): void {
    const n = parseIPv4(ip);
    if (n === undefined || n < this.first || n > this.last)
      throw new AllocationError('range', `provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.cidr}`);
    if (this.used.has(n)) throw new AllocationError('taken', 'provided IP is already allocated');
    this.used.add(n);
  }

  /** Return an address to the pool; unknown or foreign addresses are ignored. */
  release(ip: string): void {
    const n = parseIPv4(ip);
    if (n !== undefined) this.used.delete(n);
  }
}

/** Hands out node ports from an inclusive range (default 30000-32767). */
export class NodePortAllocator {
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(
    readonly min = 30000,
    readonly max = 32767,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max)
      throw new AllocationError('invalid', `invalid node port range ${min}-${max}`);
    this.cursor = min;
  }

  get range(): string {
    return `${this.min}-${this.max}`;
  }

  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.min && port <= this.max;
  }

  isAllocated(port: number): boolean {
    return this.used.has(port);
  }

  allocate(): number {
    const span = this.max - this.min + 1;
    for (let i = 0; i < span; i++) {
      const candidate = this.min + ((this.cursor - this.min + i) % span);
      if (!this.used.has(candidate)) {
        this.used.add(candidate);
        this.cursor = candidate + 1 > this.max ? this.min : candidate + 1;
        return candidate;
      }
    }
    throw new AllocationError('full', `range is full: no node ports left in ${this.range}`);
  }

  allocateSpecific(port: number): void {
    if (!this.contains(port))
      throw new AllocationError('range', `provided port is not in the valid range. The range of valid ports is ${this.range}`);
    if (this.used.has(port)) throw new AllocationError('taken', 'provided port is already allocated');
    this.used.add(port);
  }

  release(port: number): void {
    this.used.delete(port);
  }
}
