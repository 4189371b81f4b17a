// Small numeric helpers shared by the benchmarks.

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample; NaN when empty. */
export function percentile(xs: ArrayLike<number>, p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = Float64Array.from(xs).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Operations per second. */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count / ms) * 1000 : NaN;
}

/** A number with a sensible number of digits for a table. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A share (0..1) as a whole percentage. */
export const pct = (share: number) => `${Math.round(share * 100)}%`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
