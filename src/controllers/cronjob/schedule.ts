// Next-run calculation for CronJob schedules, as robfig/cron's standard parser reads them (the
// syntax itself is validated by src/api/batch/v1/cron.ts): five fields (minute hour
// day-of-month month day-of-week) with names, ranges, steps, lists and `*`/`?`, the @yearly …
// @hourly descriptors, `@every <duration>`, and an optional TZ=/CRON_TZ= prefix. Times are
// matched on the wall clock of an IANA time zone (via Intl), UTC by default.

export interface Schedule {
  /** The first activation strictly after `t` (ms since epoch). */
  next(t: number): number;
}

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const BOUNDS: { min: number; max: number; names?: Record<string, number> }[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 6, names: DAYS },
];
const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Field {
  values: Set<number>;
  /** The field was `*` or `?` (robfig's star bit: day-of-month/day-of-week then combine with AND). */
  star: boolean;
}

function value(s: string, names?: Record<string, number>): number {
  const n = names?.[s.toLowerCase()];
  if (n !== undefined) return n;
  if (!/^[0-9]+$/.test(s)) throw new Error(`failed to parse int from ${s}`);
  return Number(s);
}

function parseField(text: string, b: (typeof BOUNDS)[number]): Field {
  const values = new Set<number>();
  let star = false;
  for (const expr of text.split(',')) {
    const [range, stepText] = expr.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw new Error(`invalid step: ${expr}`);
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      lo = b.min;
      hi = b.max;
      if (stepText === undefined) star = true;
    } else {
      const [a, z] = range.split('-');
      lo = value(a, b.names);
      hi = z === undefined ? (stepText === undefined ? lo : b.max) : value(z, b.names);
    }
    if (lo < b.min || hi > b.max || lo > hi) throw new Error(`out of range: ${expr}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
}

/** Go durations as `@every` takes them (e.g. 1h30m, 90s, 1.5h). */
export function parseGoDuration(s: string): number {
  const re = /([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/y;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: MINUTE, h: HOUR };
  let total = 0;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * unit[m[2]];
    i = re.lastIndex;
  }
  if (!s.length) throw new Error('invalid duration ""');
  return total;
}

// --- time zones -----------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time in `tz` at instant `t`, as ms of a UTC date with the same fields. */
export function wallClock(t: number, tz: string): number {
  if (tz === 'UTC') return t;
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const secMs = ((t % 1000) + 1000) % 1000;
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second) + secMs;
}

/** The UTC offset of `tz` at instant `t`, in ms. */
export function zoneOffset(t: number, tz: string): number {
  return wallClock(t, tz) - t;
}

/** The instant whose wall clock in `tz` reads `wall` (a DST gap moves forward, as Go's time.Date does). */
export function fromWallClock(wall: number, tz: string): number {
  if (tz === 'UTC') return wall;
  const guess = wall - zoneOffset(wall, tz);
  const second = wall - zoneOffset(guess, tz);
  if (wallClock(second, tz) === wall) return second;
  return guess;
}

/** RFC 3339 in `tz` with its numeric offset (Go's t.In(loc).Format(time.RFC3339)). */
export function formatInZone(t: number, tz: string): string {
  const off = Math.round(zoneOffset(t, tz) / MINUTE);
  const base = new Date(Math.floor(t / 1000) * 1000 + off * MINUTE).toISOString().replace(/\.\d+Z$/, '');
  if (off === 0) return `${base}Z`;
  const a = Math.abs(off);
  return `${base}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// --- schedules ------------------------------------------------------------------------------

class FieldSchedule implements Schedule {
  constructor(
    private f: Field[],
    private tz: string,
  ) {}

  private dayMatches(d: Date): boolean {
    const [, , dom, , dow] = this.f;
    const a = dom.values.has(d.getUTCDate());
    const b = dow.values.has(d.getUTCDay());
    return dom.star || dow.star ? a && b : a || b;
  }

  next(t: number): number {
    const [min, hour, , month] = this.f;
    // Search wall-clock time, minute by minute at worst, skipping whole months/days/hours.
    let w = Math.floor(wallClock(t, this.tz) / MINUTE) * MINUTE + MINUTE;
    const limit = w + 5 * 366 * DAY;
    while (w <= limit) {
      const d = new Date(w);
      if (!month.values.has(d.getUTCMonth() + 1)) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
        continue;
      }
      if (!this.dayMatches(d)) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
        continue;
      }
      if (!hour.values.has(d.getUTCHours())) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
        continue;
      }
      if (!min.values.has(d.getUTCMinutes())) {
        w += MINUTE;
        continue;
      }
      const at = fromWallClock(w, this.tz);
      if (at > t) return at;
      w += MINUTE; // a repeated wall-clock hour (DST end) already passed
    }
    return Number.POSITIVE_INFINITY;
  }
}

class EverySchedule implements Schedule {
  constructor(private delay: number) {}
  next(t: number): number {
    // robfig's ConstantDelaySchedule: whole seconds, at least one.
    return Math.floor(t / 1000) * 1000 + Math.max(1000, Math.round(this.delay / 1000) * 1000);
  }
}

/** Parses a schedule; `timeZone` (spec.timeZone) applies unless the schedule has a TZ= prefix. */
export function parseSchedule(schedule: string, timeZone?: string): Schedule {
  let spec = schedule.trim();
  let tz = timeZone ?? 'UTC';
  const m = /^(?:CRON_TZ|TZ)=(\S+)\s*(.*)$/.exec(spec);
  if (m) {
    tz = m[1];
    spec = m[2].trim();
  }
  // Validates the zone (throws RangeError for an unknown one).
  formatter(tz);
  if (spec.startsWith('@every ')) return new EverySchedule(parseGoDuration(spec.slice(7).trim()));
  if (spec.startsWith('@')) {
    const d = DESCRIPTORS[spec];
    if (!d) throw new Error(`unrecognized descriptor: ${spec}`);
    spec = d;
  }
  const fields = spec.split(/\s+/);
  if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  return new FieldSchedule(
    fields.map((f, i) => parseField(f, BOUNDS[i])),
    tz,
  );
}
