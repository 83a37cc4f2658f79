/**
 * Timestamp accessors with a time zone (`now.getHours('Europe/Paris')`), replacing the standard
 * ones: @bufbuild/cel builds a new Intl.DateTimeFormat on every call (~100 µs). Here formatters
 * are cached per zone and the wall-clock parts per (zone, minute), since offsets only change on
 * minute boundaries. Semantics follow the CEL spec (cel-spec langdef § Timezones): an IANA name,
 * a fixed offset `±HH:MM`, or UTC when omitted; months and day-of-month are 0-based, day of week
 * 0 = Sunday.
 */
import { type CelFunc, CelScalar, celMethod, objectType } from '@bufbuild/cel';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';

const { INT, STRING } = CelScalar;
const TIMESTAMP = objectType(TimestampSchema);
const DAY_MS = 86_400_000;

/** Wall-clock date parts in a zone. */
interface Parts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const partsCache = new Map<string, Parts>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    // Throws RangeError "Invalid time zone specified: …" for unknown zones (a CEL error).
    f = new Intl.DateTimeFormat('en-US', {
      hourCycle: 'h23',
      timeZone: tz,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    if (formatters.size >= 256) formatters.clear();
    formatters.set(tz, f);
  }
  return f;
}

function utcParts(ms: number): Parts {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth(),
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
  };
}

function zoneParts(ms: number, tz: string): Parts {
  const key = `${tz}|${Math.floor(ms / 60_000)}`;
  const hit = partsCache.get(key);
  if (hit !== undefined) return hit;
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const parts = {
    year: p.year ?? 0,
    month: (p.month ?? 1) - 1,
    day: p.day ?? 1,
    hour: p.hour ?? 0,
    minute: p.minute ?? 0,
  };
  if (partsCache.size >= 4096) partsCache.clear();
  partsCache.set(key, parts);
  return parts;
}

const OFFSET = /^([+-]?)(\d\d):(\d\d)$/;

function partsIn(ms: number, tz: string | undefined): Parts {
  if (tz === undefined) return utcParts(ms);
  const fixed = OFFSET.exec(tz);
  if (fixed) {
    const offset = (Number(fixed[2]) * 60 + Number(fixed[3])) * 60_000 * (fixed[1] === '-' ? -1 : 1);
    return utcParts(ms + offset);
  }
  return zoneParts(ms, tz);
}

function millis(ts: unknown): number {
  const m = (ts as { message: { seconds: bigint; nanos: number } }).message;
  return Number(m.seconds) * 1000 + Math.floor(m.nanos / 1_000_000);
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

const ACCESSORS: Record<string, (p: Parts, ms: number) => number> = {
  getFullYear: (p) => p.year,
  getMonth: (p) => p.month,
  getDate: (p) => p.day,
  getDayOfMonth: (p) => p.day - 1,
  getDayOfWeek: (p) => new Date(Date.UTC(p.year, p.month, p.day)).getUTCDay(),
  getDayOfYear: (p) => (Date.UTC(p.year, p.month, p.day) - Date.UTC(p.year, 0, 1)) / DAY_MS,
  getHours: (p) => p.hour,
  getMinutes: (p) => p.minute,
  getSeconds: (_p, ms) => Math.floor(mod(ms, 60_000) / 1000),
  getMilliseconds: (_p, ms) => mod(ms, 1000),
};

/** Is `name` a timestamp accessor method? */
export function isTimeAccessor(name: string): boolean {
  return Object.hasOwn(ACCESSORS, name);
}

/** `timestamp.name(tz)` for a time in ms (the same code the CEL methods run); throws on a bad zone. */
export function timePart(name: string, ms: number, tz: string | undefined): number {
  const get = ACCESSORS[name];
  if (get === undefined) throw new Error(`unknown timestamp accessor ${name}`);
  return get(partsIn(ms, tz), ms);
}

/** The timestamp accessor methods (with and without a time zone). */
export const TIME_FUNCS: readonly CelFunc[] = Object.entries(ACCESSORS).flatMap(([name, get]) => [
  celMethod(name, TIMESTAMP, [], INT, function () {
    const ms = millis(this);
    return BigInt(get(partsIn(ms, undefined), ms));
  }),
  celMethod(name, TIMESTAMP, [STRING], INT, function (tz) {
    const ms = millis(this);
    return BigInt(get(partsIn(ms, tz), ms));
  }),
]);
