import { TZDate } from '@date-fns/tz';
import type { z } from 'zod';
import type { CampaignView } from '../campaigns/campaign-admin.js';
import { AppError, type ErrorDetail } from '../http/errors.js';
import { type Locale, translate } from '../shared/messages.js';
import { isTimeZone, localDateTime } from '../shared/time.js';
import { staleFormNotes } from './stale-form.js';

// The console's campaign form as the API's input: numbers typed as text, dates typed on the
// newsroom's clock (datetime-local, in the campaign's time zone), milestones as "25, 50, 75",
// checkboxes that a browser leaves out when unticked. Format problems are named by field; the
// rules (ranges, window order) are campaign-admin's.

type Form = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/** The stored campaign as the form shows it. */
export function campaignFormValues(c: CampaignView): Record<string, string | boolean> {
  const local = (iso: string) => localDateTime(new Date(iso), c.timeZone).replace(' ', 'T');
  return {
    slug: c.slug,
    title: c.title,
    description: c.description,
    goal: String(c.goal),
    startsAt: local(c.startsAt),
    endsAt: local(c.endsAt),
    timeZone: c.timeZone,
    startingOffset: String(c.startingOffset),
    milestones: c.milestones.join(', '),
    countsGifts: c.counts.gifts,
    countsOneTime: c.counts.oneTime,
    version: String(c.version),
  };
}

/** The fields an editor types, as the form names them (the slug is fixed once created). */
const EDITABLE = [
  'title',
  'description',
  'goal',
  'startsAt',
  'endsAt',
  'timeZone',
  'startingOffset',
  'milestones',
  'countsGifts',
  'countsOneTime',
] as const;
const CHECKBOXES = new Set<string>(['countsGifts', 'countsOneTime']);

/** What the form held when it was opened, sent back with it so a conflict can say who changed what. */
export const loadedField = (values: Record<string, string | boolean>) =>
  JSON.stringify(Object.fromEntries(EDITABLE.map((k) => [k, values[k]])));

/**
 * A save refused because a colleague saved since the form was opened: the form again, on the
 * current version, holding the colleague's changes and the editor's where they do not clash, each
 * differing field marked (stale-form.ts). `typed` is the form as posted (with `loaded`, what it was
 * opened with).
 */
export function mergeAfterConflict(locale: Locale, typed: Form, current: CampaignView) {
  const now = campaignFormValues(current);
  const read = (field: string, form: Form) =>
    CHECKBOXES.has(field)
      ? String(Boolean(form[field]))
      : field === 'description'
        ? String(form[field] ?? '')
        : str(form[field]);
  const { notes, keepMine } = staleFormNotes(locale, {
    typed,
    current: now,
    fields: EDITABLE,
    read,
    show: (field, value) =>
      CHECKBOXES.has(field)
        ? translate(locale, value === 'true' ? 'console.conflict.ticked' : 'console.conflict.notTicked')
        : value,
  });
  const values: Record<string, string | boolean> = { ...now, loaded: loadedField(now) };
  for (const field of keepMine)
    values[field] = CHECKBOXES.has(field) ? Boolean(typed[field]) : read(field, typed);
  return { values, notes };
}

/**
 * The form's fields in the API's shape; a 422 naming each field typed in a form we cannot read and,
 * with `rules` (the API's schema), each other field the rules refuse, so one submit names them all.
 * `extra` is what the rules need besides (the slug of a new campaign).
 */
export function campaignFromForm(
  form: Form,
  fallbackTimeZone = 'UTC',
  rules?: z.ZodType,
  extra: Record<string, unknown> = {},
) {
  const problems: ErrorDetail[] = [];
  const whole = (field: string) => {
    const text = str(form[field]);
    if (/^\d{1,9}$/.test(text)) return Number(text);
    problems.push({ path: field, message: 'Enter a whole number, like 1000.' });
    return 0;
  };
  const timeZone = str(form.timeZone) || fallbackTimeZone;
  if (!isTimeZone(timeZone))
    problems.push({ path: 'timeZone', message: 'Enter a time zone like Europe/Kyiv.' });
  const instant = (field: string) => {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?$/.exec(str(form[field]));
    if (!match || !isTimeZone(timeZone)) {
      if (!match) problems.push({ path: field, message: 'Enter a date and time.' });
      return '';
    }
    const [y, m, d, h, min] = match.slice(1).map(Number) as [number, number, number, number, number];
    // Date would move 30 February to 2 March, and read year 0 as 1900: take only a real day and time.
    const wall = new Date(Date.UTC(y, m - 1, d, h, min));
    if (y < 1000 || wall.getUTCMonth() !== m - 1 || wall.getUTCDate() !== d || h > 23 || min > 59) {
      problems.push({ path: field, message: 'Enter a date and time that exist, like 2026-12-01T09:00.' });
      return '';
    }
    return new Date(new TZDate(y, m - 1, d, h, min, 0, timeZone).getTime()).toISOString();
  };
  const milestoneText = str(form.milestones);
  const milestones = milestoneText ? milestoneText.split(/[\s,;%]+/).filter(Boolean) : [];
  if (milestones.some((m) => !/^\d{1,4}$/.test(m)))
    problems.push({
      path: 'milestones',
      message: 'Enter percentages separated by commas, like 25, 50, 100.',
    });
  const input = {
    title: str(form.title),
    description: typeof form.description === 'string' ? form.description : '',
    goal: whole('goal'),
    startsAt: instant('startsAt'),
    endsAt: instant('endsAt'),
    timeZone,
    startingOffset: str(form.startingOffset) ? whole('startingOffset') : 0,
    milestones: milestones.map(Number).sort((a, b) => a - b),
    counts: { gifts: Boolean(form.countsGifts), oneTime: Boolean(form.countsOneTime) },
  };
  if (problems.length) {
    const unread = new Set(problems.map((p) => p.path));
    const checked = rules?.safeParse({ ...extra, ...input });
    for (const issue of checked?.error?.issues ?? []) {
      const path = issue.path.join('.');
      // A field we could not read was sent as a placeholder: its own message says what is wrong.
      if (!unread.has(path.split('.')[0])) problems.push({ path, message: issue.message });
    }
    throw new AppError('validation_failed', undefined, problems);
  }
  return input;
}

/** Only what the form changed, so a save never rewrites a field someone else changed meanwhile. */
export function changedFields(current: CampaignView, typed: ReturnType<typeof campaignFromForm>) {
  const changes: Record<string, unknown> = {};
  // The form shows times to the minute: a stored time with seconds is unchanged if the minute is.
  const toMinute = (iso: string) => new Date(Math.floor(Date.parse(iso) / 60_000) * 60_000).toISOString();
  for (const key of ['title', 'description', 'goal', 'timeZone', 'startingOffset'] as const) {
    if (typed[key] !== current[key]) changes[key] = typed[key];
  }
  for (const key of ['startsAt', 'endsAt'] as const) {
    if (typed[key] !== toMinute(current[key])) changes[key] = typed[key];
  }
  if (typed.milestones.join() !== current.milestones.join()) changes.milestones = typed.milestones;
  const counts: Record<string, boolean> = {};
  if (typed.counts.gifts !== current.counts.gifts) counts.gifts = typed.counts.gifts;
  if (typed.counts.oneTime !== current.counts.oneTime) counts.oneTime = typed.counts.oneTime;
  if (Object.keys(counts).length) changes.counts = counts;
  return changes;
}
