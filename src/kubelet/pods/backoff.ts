// Crash-loop back-off, per pod container, with upstream's rules (client-go flowcontrol.Backoff as
// the kubelet uses it): the first restart after a failure is immediate and arms 10 s; each further
// restart waits the current delay measured from the container's finish and doubles it up to 300 s;
// an entry not bumped for twice the maximum (10 minutes of running) starts again at 10 s.
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

interface Entry {
  delayMs: number;
  lastUpdate: number;
}

export class RestartBackoff {
  private entries = new Map<string, Entry>();

  constructor(private opts: BackoffOptions = { initialMs: 10_000, maxMs: 300_000 }) {}

  private expired(e: Entry, at: number): boolean {
    return at - e.lastUpdate > 2 * this.opts.maxMs;
  }

  /** Milliseconds still to wait before restarting a container that finished at `finishedAt` (0: go). */
  remaining(key: string, finishedAt: number, now = Date.now()): number {
    const e = this.entries.get(key);
    if (!e || this.expired(e, finishedAt)) return 0;
    return Math.max(0, finishedAt + e.delayMs - now);
  }

  /** The delay currently armed for key. */
  current(key: string): number {
    return this.entries.get(key)?.delayMs ?? this.opts.initialMs;
  }

  /** Record a restart of a container that finished at `finishedAt`. */
  next(key: string, finishedAt: number): void {
    const e = this.entries.get(key);
    if (!e || this.expired(e, finishedAt)) this.entries.set(key, { delayMs: this.opts.initialMs, lastUpdate: finishedAt });
    else this.entries.set(key, { delayMs: Math.min(e.delayMs * 2, this.opts.maxMs), lastUpdate: finishedAt });
  }

  forgetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
