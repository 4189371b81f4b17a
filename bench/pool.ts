// Run `count` operations with at most `concurrency` in flight, recording each one's latency.
// Bounded in count and in time: past the deadline no new operation starts.

export interface PoolResult {
  done: number;
  errors: number;
  firstError?: string;
  ms: number;
  /** Latency of each completed operation, ms. */
  latencies: Float64Array;
  timedOut: boolean;
}

/** `op` resolves true on the expected answer, false (or throws) otherwise. */
export async function runPool(count: number, concurrency: number, op: (i: number) => Promise<boolean>, timeLimitMs: number): Promise<PoolResult> {
  const latencies = new Float64Array(count);
  const start = performance.now();
  const deadline = start + timeLimitMs;
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const t = performance.now();
      let ok = false;
      try {
        ok = await op(i);
      } catch (e) {
        firstError ??= (e as Error).message;
      }
      latencies[done++] = performance.now() - t;
      if (!ok) {
        errors++;
        firstError ??= `operation ${i} got an unexpected answer`;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { done, errors, firstError, ms: performance.now() - start, latencies: latencies.subarray(0, done), timedOut: done < count };
}
