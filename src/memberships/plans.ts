import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const CURRENCIES = ['usd', 'eur', 'gbp'] as const;
export type Currency = (typeof CURRENCIES)[number];
export const INTERVALS = ['month', 'year'] as const;
export type Interval = (typeof INTERVALS)[number];

const minorUnits = z.number().int().positive();
const range = z
  .object({ min: minorUnits, max: minorUnits })
  .refine((r) => r.min <= r.max, 'min must not exceed max');
const perCurrency = <S extends z.ZodType>(schema: S) =>
  z
    .object({ usd: schema, eur: schema, gbp: schema })
    .partial()
    .refine((o) => Object.keys(o).length > 0, 'at least one currency');

export const plansSchema = z
  .object({
    tiers: z
      .array(
        z.object({
          id: z.string().regex(/^[a-z0-9-]{1,40}$/, 'lowercase letters, digits and dashes'),
          name: z.string().min(1).max(80),
          description: z.string().max(300).default(''),
          prices: perCurrency(z.object({ month: minorUnits, year: minorUnits })),
        }),
      )
      .min(1),
    customAmount: perCurrency(range),
    oneTime: perCurrency(range),
  })
  .meta({ id: 'Plans' });

export type Plans = z.infer<typeof plansSchema>;
export type Tier = Plans['tiers'][number];

/** What a newsroom gets until it configures its own (amounts in minor units: 500 = 5.00). */
export const DEFAULT_PLANS: Plans = {
  tiers: [
    {
      id: 'supporter',
      name: 'Supporter',
      description: 'Keep our journalism free for everyone.',
      prices: {
        usd: { month: 500, year: 5000 },
        eur: { month: 500, year: 5000 },
        gbp: { month: 400, year: 4000 },
      },
    },
    {
      id: 'patron',
      name: 'Patron',
      description: 'Fund an investigation a year, and meet the newsroom.',
      prices: {
        usd: { month: 1500, year: 15000 },
        eur: { month: 1500, year: 15000 },
        gbp: { month: 1200, year: 12000 },
      },
    },
  ],
  // Card testers check stolen cards with the smallest payment a form takes: 5.00 is the least a
  // reader may choose (src/memberships/README.md, "Minimum amounts").
  customAmount: {
    usd: { min: 500, max: 100000 },
    eur: { min: 500, max: 100000 },
    gbp: { min: 500, max: 100000 },
  },
  oneTime: {
    usd: { min: 500, max: 1000000 },
    eur: { min: 500, max: 1000000 },
    gbp: { min: 500, max: 1000000 },
  },
};

export function loadPlans(file: string | undefined): Plans {
  if (!file) return DEFAULT_PLANS;
  const result = plansSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!result.success) {
    throw new Error(
      `MEMBERSHIP_PLANS_FILE ${file} is invalid:\n${result.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  return result.data;
}
