import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CURRENCIES } from '../memberships/plans.js';

export const giftOptionsSchema = z
  .object({
    durations: z
      .array(
        z.object({
          months: z.number().int().positive(),
          prices: z
            .object({
              usd: z.number().int().positive(),
              eur: z.number().int().positive(),
              gbp: z.number().int().positive(),
            })
            .partial(),
        }),
      )
      .min(1),
  })
  .meta({ id: 'GiftOptions' });
export type GiftOptions = z.infer<typeof giftOptionsSchema>;

export const DEFAULT_GIFT_OPTIONS: GiftOptions = {
  durations: [
    { months: 1, prices: { usd: 600, eur: 600, gbp: 500 } },
    { months: 3, prices: { usd: 1500, eur: 1500, gbp: 1300 } },
    { months: 12, prices: { usd: 5000, eur: 5000, gbp: 4200 } },
  ],
};

export const GIFT_CURRENCIES = CURRENCIES;

export function loadGiftOptions(file: string | undefined): GiftOptions {
  return file ? giftOptionsSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) : DEFAULT_GIFT_OPTIONS;
}
