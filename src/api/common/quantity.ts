// Kubernetes resource quantities (`100m`, `1Gi`, `1e3`, `0.5`): parsing, exact comparison and the
// canonical string the API server stores and prints. Values are held exactly as a count of
// nano-units (bigint); like upstream, anything finer than 1n is rounded up.

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in units of 1e-9 (exact; rounded up when the input was finer). */
  nanos: bigint;
  /** The notation family of the input, kept when printing (as upstream does). */
  format: QuantityFormat;
}

const NANO = 1_000_000_000n;
const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_SUFFIX: Record<number, string> = Object.fromEntries(Object.entries(DECIMAL).map(([s, e]) => [e, s]));
const SYNTAX = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** `mantissa × 10^exp10`, rounded up (toward +∞) to whole nano-units. */
function toNanos(mantissa: bigint, exp10: number): bigint {
  const shift = exp10 + 9;
  if (shift >= 0) return mantissa * 10n ** BigInt(shift);
  const div = 10n ** BigInt(-shift);
  const q = mantissa / div;
  return mantissa > 0n && q * div !== mantissa ? q + 1n : q;
}

/** Parse a quantity (a JSON number is accepted as its decimal text); undefined when malformed. */
export function parseQuantity(input: unknown): Quantity | undefined {
  const s = typeof input === 'number' && Number.isFinite(input) ? String(input) : input;
  if (typeof s !== 'string') return undefined;
  const m = SYNTAX.exec(s);
  if (!m) return undefined;
  const [, sign, whole, frac = '', suffix = ''] = m;
  if (whole === '' && frac === '') return undefined;
  // Exponents beyond what any resource could mean would only make huge bigints; upstream caps too.
  let exp10 = -frac.length;
  let mantissa = BigInt((whole || '0') + frac);
  if (sign === '-') mantissa = -mantissa;
  let format: QuantityFormat = 'DecimalSI';
  if (suffix in BINARY) {
    format = 'BinarySI';
    mantissa *= 1n << BigInt(BINARY[suffix]);
  } else if (suffix.startsWith('e') || suffix.startsWith('E')) {
    const e = Number(suffix.slice(1));
    if (!Number.isSafeInteger(e) || Math.abs(e) > 100) return undefined;
    format = 'DecimalExponent';
    exp10 += e;
  } else {
    exp10 += DECIMAL[suffix];
  }
  if (Math.abs(exp10) > 120) return undefined;
  return { nanos: toNanos(mantissa, exp10), format };
}

/** The canonical form upstream serialises, e.g. `1000m`→`1`, `0.5`→`500m`, `1536Mi`→`1536Mi`, `2048Ki`→`2Mi`. */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0';
  const neg = q.nanos < 0n;
  const abs = neg ? -q.nanos : q.nanos;
  const sign = neg ? '-' : '';
  // Binary notation only fits whole numbers of at least 1Ki; otherwise upstream falls back to decimal.
  if (q.format === 'BinarySI' && abs % NANO === 0n && abs >= 1024n * NANO) {
    let v = abs / NANO;
    let i = 0;
    const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
    while (v % 1024n === 0n && i < suffixes.length - 1) {
      v /= 1024n;
      i++;
    }
    return `${sign}${v}${suffixes[i]}`;
  }
  let mant = abs;
  let exp = -9;
  while (mant % 10n === 0n) {
    mant /= 10n;
    exp++;
  }
  // Exponents are kept at multiples of 3 (a suffix exists for each), rounding the exponent down.
  while (((exp % 3) + 3) % 3 !== 0) {
    mant *= 10n;
    exp--;
  }
  if (q.format === 'DecimalExponent') return `${sign}${mant}${exp === 0 ? '' : `e${exp}`}`;
  while (exp > 18) {
    mant *= 1000n;
    exp -= 3;
  }
  return `${sign}${mant}${DECIMAL_SUFFIX[exp]}`;
}

/** Canonical text of a quantity string, or undefined when it does not parse. */
export function canonicalQuantity(input: unknown): string | undefined {
  const q = parseQuantity(input);
  return q ? formatQuantity(q) : undefined;
}

/** The value as a (possibly inexact) JavaScript number; NaN when malformed. */
export function quantityValue(input: unknown): number {
  const q = parseQuantity(input);
  return q ? Number(q.nanos) / 1e9 : NaN;
}

/** -1, 0 or 1 comparing two parsed quantities exactly. */
export function compareQuantities(a: Quantity, b: Quantity): number {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/** Sum of quantities, keeping the first one's notation (how quota usage adds up). */
export function addQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.format };
}
