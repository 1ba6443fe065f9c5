import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../http/errors.js';
import { signLink } from '../infra/signed-links.js';
import { translate } from '../shared/messages.js';
import { calendarKeys, zonedHourToUtc } from '../shared/time.js';
import type { Gift } from './gift.model.js';
import type { GiftDeps } from './gift-deps.js';
import type { GiftOptions } from './gift-options.js';

// What the stages of a gift share: its links, codes, prices and dates.

export const DAY_MS = 86_400_000;
export const hashCode = (code: string) => createHash('sha256').update(code).digest('hex');
export const newCode = () => randomBytes(16).toString('base64url'); // 128 bits
export const longDate = (d: Date, timeZone: string, intlLocale = 'en-GB') =>
  new Intl.DateTimeFormat(intlLocale, { dateStyle: 'long', timeZone }).format(d);

export function manageUrl(deps: Pick<GiftDeps, 'publicBaseUrl' | 'linkSecret'>, giftId: string) {
  return `${deps.publicBaseUrl}/gifts/manage?g=${giftId}&sig=${signLink(deps.linkSecret, 'gift-manage', giftId)}`;
}

export function continueUrl(deps: Pick<GiftDeps, 'publicBaseUrl' | 'linkSecret'>, memberId: string) {
  return `${deps.publicBaseUrl}/gifts/continue?m=${memberId}&sig=${signLink(deps.linkSecret, 'gift-continue', memberId)}`;
}

export function giftPrice(options: GiftOptions, months: number, currency: string): number {
  const duration = options.durations.find((d) => d.months === months);
  const price = duration?.prices[currency as keyof typeof duration.prices];
  if (!duration)
    throw new AppError('validation_failed', undefined, [
      { path: 'durationMonths', message: `A ${months}-month gift is not offered` },
    ]);
  if (!price)
    throw new AppError('validation_failed', undefined, [
      {
        path: 'currency',
        message: translate('en', 'gifts.problem.currency', { currency: currency.toUpperCase() }),
      },
    ]);
  return price;
}

export const describeDeliveryDay = (gift: Gift, timeZone: string, intlLocale?: string) =>
  longDate(gift.deliverAt, timeZone, intlLocale);
export const deliveryDayValue = (gift: Gift, timeZone: string) => calendarKeys(gift.deliverAt, timeZone).day;

/**
 * When a gift chosen for `deliverOn` (a day in the newsroom's time zone, from today up to a year
 * ahead) is delivered: today means now (the scheduler sends it on its next round), a later day at
 * the delivery hour.
 */
export function deliveryTime(
  deps: Pick<GiftDeps, 'timeZone' | 'deliveryHour'>,
  deliverOn: string,
  now: Date,
): Date {
  const today = calendarKeys(now, deps.timeZone).day;
  const lastDay = calendarKeys(new Date(now.getTime() + 365 * DAY_MS), deps.timeZone).day;
  if (deliverOn < today || deliverOn > lastDay) {
    throw new AppError('validation_failed', undefined, [
      { path: 'deliverOn', message: translate('en', 'gifts.problem.deliverOn') },
    ]);
  }
  return deliverOn === today ? now : zonedHourToUtc(deliverOn, deps.deliveryHour, deps.timeZone);
}
