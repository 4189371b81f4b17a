// Waiting for eventually-consistent effects (a controller's write, a watch event) in tests: poll a
// check until it yields a value, within a bound that is generous on purpose — the bound only stops
// a hung test; it never asserts speed (benchmarks measure that).
export const DEFAULT_WAIT_MS = 30_000;

export async function until<T>(fn: () => T | undefined | false | null | Promise<T | undefined | false | null>, what: string, timeoutMs = DEFAULT_WAIT_MS, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
