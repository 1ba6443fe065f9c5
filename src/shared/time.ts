import { TZDate } from '@date-fns/tz';

/** The calendar day and month of an instant in the newsroom's time zone, stored so reports can group by them. */
export function calendarKeys(at: Date, timeZone: string): { day: string; month: string } {
  const parts = formatter(timeZone, 'day').formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: `${get('year')}-${get('month')}-${get('day')}`, month: `${get('year')}-${get('month')}` };
}

export const fromUnixSeconds = (seconds: number) => new Date(seconds * 1000);

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * The instant when it is `hour`:00 on `date` (YYYY-MM-DD) in `timeZone`. On a day whose clocks jump
 * over that hour it is the first instant after the jump; where the hour happens twice, the first.
 * The zone maths is @date-fns/tz's: an offset guessed from the UTC wall time and corrected once is
 * an hour off on DST days east of UTC+10 (Sydney on 2026-10-04 came out as 23:00 the day before).
 */
export function zonedHourToUtc(date: string, hour: number, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(new TZDate(y, m - 1, d, hour, 0, 0, timeZone).getTime());
}

/** Calendar months later; a day the month lacks becomes its last day (30 Nov + 3 months = 28 Feb). */
export function addMonths(date: Date, months: number): Date {
  const next = new Date(date);
  const day = next.getUTCDate();
  next.setUTCDate(1);
  next.setUTCMonth(next.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 0)).getUTCDate();
  next.setUTCDate(Math.min(day, lastDay));
  return next;
}

/** "2026-11-27 14:05" as the newsroom's clocks showed it. */
export function localDateTime(at: Date, timeZone: string): string {
  const ms = at.getTime();
  const local = new Date(ms >= CACHED_FROM ? wallClockAt(ms, timeZone) : wallClockMs(ms, timeZone));
  const iso = local.toISOString(); // the local wall clock, written as if it were UTC
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** The newsroom's clocks as Intl reads them at `at`, to the minute (the slow, certain way). */
function wallClockMs(at: number, timeZone: string): number {
  const parts = formatter(timeZone, 'minute').formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
}

// Since 1980 a zone's offset is a whole quarter hour and nearly always changes at a quarter hour of
// UTC (clocks change at a whole local hour or half hour), so Intl read at both ends of a quarter
// hour serves all of it: an export of 100,000 supporters formats each date in about a microsecond
// instead of eight. A quarter hour whose ends differ (St John's changed at 00:01 until 2011) is read
// minute by minute, as are instants before 1980 (offsets in seconds, such as Amsterdam's +00:19:32).
const CACHED_FROM = Date.UTC(1980, 0, 1);
const QUARTER_HOUR_MS = 15 * 60_000;
const LAST_MINUTE_MS = QUARTER_HOUR_MS - 60_000;
/** The offset of each quarter hour met, or NaN for one in which it changes. */
const offsets = new Map<string, number>();

function wallClockAt(at: number, timeZone: string): number {
  const quarter = Math.floor(at / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  const key = `${timeZone}|${quarter}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    if (offsets.size > 50_000) offsets.clear();
    offset = wallClockMs(quarter, timeZone) - quarter;
    const last = quarter + LAST_MINUTE_MS;
    if (wallClockMs(last, timeZone) - last !== offset) offset = Number.NaN;
    offsets.set(key, offset);
  }
  return Number.isNaN(offset) ? wallClockMs(at, timeZone) : at + offset;
}

// Building an Intl formatter costs far more than using one, and exports format every row.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string, precision: 'day' | 'minute'): Intl.DateTimeFormat {
  const key = `${timeZone}|${precision}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      ...(precision === 'minute' ? { hourCycle: 'h23', hour: '2-digit', minute: '2-digit' } : {}),
    });
    formatters.set(key, format);
  }
  return format;
}

/** Whole local days `from`..`to` (YYYY-MM-DD, inclusive) as the instants [start, end). */
export function zonedDayRange(from: string, to: string, timeZone: string): { from: Date; to: Date } {
  const dayAfter = new Date(`${to}T00:00:00Z`);
  dayAfter.setUTCDate(dayAfter.getUTCDate() + 1);
  return {
    from: zonedHourToUtc(from, 0, timeZone),
    to: zonedHourToUtc(dayAfter.toISOString().slice(0, 10), 0, timeZone),
  };
}
