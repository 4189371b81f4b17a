// A queue of keys: a key queued twice before it is processed runs once; a failed key is retried
// with exponential back-off; a key is never processed by two workers at once.
export class WorkQueue {
  private queued = new Set<string>();
  private processing = new Set<string>();
  private dirty = new Set<string>(); // re-added while processing
  private failures = new Map<string, number>();
  private timers = new Set<NodeJS.Timeout>();
  private running = 0;
  private stopped = false;

  constructor(
    private readonly process: (key: string) => Promise<void>,
    private readonly workers = 1,
    private readonly baseDelayMs = 50,
    private readonly maxDelayMs = 30_000,
    private readonly onError: (key: string, e: unknown) => void = () => {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.queued.add(key);
    this.pump();
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.add(key);
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queued.clear();
  }

  /** Resolves when nothing is queued or running (tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.queued.size || this.running) await new Promise((r) => setTimeout(r, 5));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.workers && this.queued.size) {
      const key = this.queued.values().next().value as string;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      this.process(key)
        .then(
          () => this.failures.delete(key),
          (e) => {
            const n = (this.failures.get(key) ?? 0) + 1;
            this.failures.set(key, n);
            this.onError(key, e);
            this.addAfter(key, Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1)));
          },
        )
        .finally(() => {
          this.running--;
          this.processing.delete(key);
          if (this.dirty.delete(key)) this.queued.add(key);
          this.pump();
        });
    }
  }
}
