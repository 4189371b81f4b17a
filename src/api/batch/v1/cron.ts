// Cron schedule syntax as CronJobs accept it (robfig/cron's standard parser): five fields
// (minute hour day-of-month month day-of-week) or a descriptor (@hourly, @every 1h30m, ...),
// optionally prefixed with TZ=/CRON_TZ=. Errors read like the parser's so messages match upstream.

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const FIELDS: Bounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 6, names: DAYS },
];
const DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
// Go duration: one or more number+unit pairs.
const GO_DURATION = /^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$/;

function parseValue(s: string, b: Bounds): number {
  const named = b.names?.[s.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^[0-9]+$/.test(s)) throw new Error(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

function checkRange(expr: string, b: Bounds): void {
  const [rangePart, stepPart, ...extra] = expr.split('/');
  if (extra.length) throw new Error(`too many slashes: ${expr}`);
  let start: number;
  let end: number;
  if (rangePart === '*' || rangePart === '?') {
    start = b.min;
    end = b.max;
  } else {
    const lowHigh = rangePart.split('-');
    if (lowHigh.length > 2) throw new Error(`too many hyphens: ${expr}`);
    start = parseValue(lowHigh[0], b);
    end = lowHigh.length === 2 ? parseValue(lowHigh[1], b) : start;
    if (stepPart !== undefined && lowHigh.length === 1) end = b.max;
  }
  if (stepPart !== undefined) {
    if (!/^[0-9]+$/.test(stepPart)) throw new Error(`failed to parse int from ${stepPart}: strconv.Atoi: parsing ${JSON.stringify(stepPart)}: invalid syntax`);
    if (Number(stepPart) === 0) throw new Error(`step of range should be a positive number: ${expr}`);
  }
  if (start < b.min) throw new Error(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new Error(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
}

/** Problems with a schedule string, as the cron parser words them; empty when it parses. */
export function cronScheduleProblems(schedule: string): string[] {
  let spec = schedule.trim();
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const i = spec.indexOf(' ');
    const tz = spec.slice(spec.indexOf('=') + 1, i < 0 ? undefined : i);
    if (!isValidTimeZone(tz)) return [`provided bad location ${tz}: unknown time zone ${tz}`];
    spec = i < 0 ? '' : spec.slice(i).trim();
  }
  if (spec === '') return ['empty spec string'];
  if (spec.startsWith('@')) {
    if (spec.startsWith('@every ')) {
      const d = spec.slice(7).trim();
      return GO_DURATION.test(d) && d !== '' ? [] : [`failed to parse duration ${spec}: time: invalid duration ${JSON.stringify(d)}`];
    }
    return DESCRIPTORS.includes(spec) ? [] : [`unrecognized descriptor: ${spec}`];
  }
  const fields = spec.split(/\s+/);
  if (fields.length !== 5) return [`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`];
  try {
    fields.forEach((f, i) => f.split(',').forEach((expr) => checkRange(expr, FIELDS[i])));
  } catch (e) {
    return [(e as Error).message];
  }
  return [];
}

/**
 * Whether an IANA zone name is loadable. Intl accepts any letter case and ICU aliases; Go's
 * time.LoadLocation is case-sensitive, so a name that only matches in another case is refused.
 */
export function isValidTimeZone(tz: string): boolean {
  if (tz === '' || tz.toLowerCase() === 'local') return false;
  if (!tz.split('/').every((p) => p !== '.' && p !== '..' && !p.startsWith('-') && /^[A-Za-z.\-_0-9+]{1,14}$/.test(p))) return false;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  return !(resolved !== tz && resolved.toLowerCase() === tz.toLowerCase());
}
