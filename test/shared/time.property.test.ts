import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calendarKeys, localDateTime, zonedDayRange, zonedHourToUtc } from '../../src/shared/time.js';
import { deep, sample, seededRandom, seedFrom } from '../support/depth.js';

// Local days cut at the right instant in every zone, on every DST day of 2024–2030. The oracle is
// independent of the code: it reads the wall clock with Intl and searches for the first instant of
// the day, so it needs no offset arithmetic of its own.
//
// Walking every DST change of all ~420 zones took 20 s, so each run walks a sample of them (the
// newsroom's zones and the oddest ones always among them) drawn from a printed seed: TIME_ZONE_SEED
// replays a run, and `npm run test:deep` (TEST_DEPTH=10) walks every zone.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ALL_ZONES = Intl.supportedValuesOf('timeZone');
/** Always walked: the newsroom's, and those whose changes are odd (30-minute DST, +13/+14, the dateline). */
const ALWAYS = [
  'UTC',
  'Europe/Kyiv',
  'Europe/London',
  'America/New_York',
  'America/Santiago',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Auckland',
  'Pacific/Chatham',
  'Pacific/Apia',
  'Pacific/Kiritimati',
  'Antarctica/Troll',
  'Asia/Tehran',
  'Africa/Casablanca',
].filter((zone) => {
  try {
    return Boolean(new Intl.DateTimeFormat('en', { timeZone: zone })); // an alias this ICU may not list
  } catch {
    return false;
  }
});
const ZONES = [
  ...new Set([...ALWAYS, ...sample(ALL_ZONES, deep(40), seededRandom(seedFrom('TIME_ZONE_SEED')))]),
];
/** The share of all zones walked, to scale the expected number of checks. */
const SHARE = ZONES.length / ALL_ZONES.length;

const walls = new Map<string, Intl.DateTimeFormat>();
/** The zone's wall clock at `t` as if it were UTC: offset = wall(t) - t. */
function wall(t: number, zone: string): number {
  let format = walls.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    walls.set(zone, format);
  }
  const p = Object.fromEntries(format.formatToParts(new Date(t)).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!);
}
const offset = (t: number, zone: string) => wall(t, zone) - Math.floor(t / MINUTE) * MINUTE;
const localDay = (t: number, zone: string) => new Date(wall(t, zone)).toISOString().slice(0, 10);

/** Every instant (to the minute) in 2024–2030 (or the years given) at which the zone's offset changes. */
function transitions(zone: string, from = 2024, to = 2030): number[] {
  const found: number[] = [];
  const step = 7 * DAY; // offsets change far less often than that
  let before = offset(Date.UTC(from, 0, 1), zone);
  for (let t = Date.UTC(from, 0, 1); t < Date.UTC(to + 1, 0, 1); t += step) {
    const after = offset(t + step, zone);
    if (after === before) continue;
    let [lo, hi] = [t, t + step]; // the offset at lo differs from the one at hi: narrow to the minute
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offset(mid, zone) === before) lo = mid;
      else hi = mid;
    }
    found.push(hi);
    before = after;
  }
  return found;
}

/** The first instant whose local day is `day`: its midnight, or the first valid instant after a skipped one. */
function startOfLocalDay(day: string, zone: string): number {
  const utcMidnight = Date.parse(`${day}T00:00:00Z`);
  // Start a few hours before the guess from the offset at UTC midnight, then walk forward.
  let t = utcMidnight - offset(utcMidnight, zone) - 3 * HOUR;
  while (localDay(t, zone) >= day) t -= 3 * HOUR;
  while (localDay(t, zone) < day) t += 15 * MINUTE;
  for (let m = t - 15 * MINUTE; m <= t; m += MINUTE) if (localDay(m, zone) === day) return m;
  throw new Error('unreachable');
}
const dayAfter = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);

describe('local days in every time zone', () => {
  it('when a DST change is near (2024–2030, a seeded sample of IANA zones), then each day around it starts at its local midnight, or the first instant after a skipped one', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const zone of ZONES) {
      for (const change of transitions(zone)) {
        const day = localDay(change, zone);
        for (const n of [-1, 0, 1]) {
          const d = dayAfter(day, n);
          const expected = startOfLocalDay(d, zone);
          const actual = zonedHourToUtc(d, 0, zone).getTime();
          checked++;
          if (actual !== expected)
            wrong.push(
              `${zone} ${d}: ${new Date(actual).toISOString()}, expected ${new Date(expected).toISOString()}`,
            );
        }
      }
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    console.log(`${checked} days checked around DST changes`);
    expect(checked).toBeGreaterThan(1000 * SHARE); // the zones with DST in those years were all visited
  }, 120_000);

  it('when the newsroom is in Sydney or Auckland, then the DST days of 2026 start at local midnight', () => {
    expect(zonedHourToUtc('2026-10-04', 0, 'Australia/Sydney')).toEqual(new Date('2026-10-03T14:00:00Z'));
    expect(zonedHourToUtc('2026-09-27', 0, 'Pacific/Auckland')).toEqual(new Date('2026-09-26T12:00:00Z'));
    expect(zonedHourToUtc('2026-04-05', 0, 'Pacific/Auckland')).toEqual(new Date('2026-04-04T11:00:00Z'));
    expect(zonedHourToUtc('2026-04-05', 0, 'Australia/Sydney')).toEqual(new Date('2026-04-04T13:00:00Z'));
    // A report period over the Sydney DST day is 23 hours long, and both ends are local midnights.
    const range = zonedDayRange('2026-10-04', '2026-10-04', 'Australia/Sydney');
    expect(range.to.getTime() - range.from.getTime()).toBe(23 * HOUR);
    expect(calendarKeys(range.from, 'Australia/Sydney').day).toBe('2026-10-04');
    expect(calendarKeys(new Date(range.from.getTime() - 1), 'Australia/Sydney').day).toBe('2026-10-03');
  });
});

describe('local date and time in every time zone', () => {
  const oracle = (t: number, zone: string) =>
    new Date(wall(t, zone)).toISOString().slice(0, 16).replace('T', ' ');

  it('when the clocks change (1980–2030, a seeded sample of IANA zones), then every minute around the change reads as Intl reads it', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const zone of ZONES) {
      for (const change of transitions(zone, 1980, 2030)) {
        for (let t = change - 20 * MINUTE; t <= change + 20 * MINUTE; t += MINUTE - 1_000) {
          checked++;
          const actual = localDateTime(new Date(t), zone);
          if (actual !== oracle(t, zone)) wrong.push(`${zone} ${new Date(t).toISOString()}: ${actual}`);
        }
      }
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(checked).toBeGreaterThan(100_000 * SHARE);
  }, 300_000);

  it('when any instant from 1900 to 2100 is read in any zone, then it reads as Intl reads it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }),
        fc.constantFrom(...ALL_ZONES),
        (t, zone) => localDateTime(new Date(t), zone) === oracle(t, zone),
      ),
      { numRuns: deep(5_000) },
    );
  });
});
