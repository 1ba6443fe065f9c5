import { z } from 'zod';
import { supportersFilterSchema } from './supporters.report.js';

// The reports' inputs, shared by the HTTP routes, the CLI and the OpenAPI document.

const csvOptions = {
  format: z.enum(['json', 'csv']).default('json'),
  bom: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: "true: start the CSV with UTF-8's BOM, for Excel" }),
};
export const supportersQuery = supportersFilterSchema.extend({
  ...csvOptions,
  after: z
    .string()
    .regex(/^[0-9a-f]{24}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
/**
 * Reports cover this service's years. Year 0 read as 1900 without a word, and 9999's last day has no
 * next midnight (500).
 */
const inReportYears = (value: string) => value >= '2000' && value < '2200';
const YEARS = 'a date from 2000 to 2199';
const reportDay = z.iso.date().refine(inReportYears, YEARS);
const reportMonthOrDay = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])(-\d{2})?$/, 'YYYY-MM or YYYY-MM-DD')
  .refine((v) => v.length === 7 || z.iso.date().safeParse(v).success, 'a day that exists')
  .refine(inReportYears, YEARS);

/** Whole local days from..to; at most `maxDays` long where a report walks every day or asks Stripe. */
const period = (maxDays: number) =>
  z
    .object({ from: reportDay, to: reportDay.meta({ description: 'Inclusive' }) })
    .refine(({ from, to }) => from <= to, { message: 'from must not be after to', path: ['to'] })
    .refine(({ from, to }) => Date.parse(to) - Date.parse(from) < maxDays * 86_400_000, {
      message: `the range may be at most ${maxDays} days`,
      path: ['to'],
    });
export const periodQuery = period(3660);
export const growthQuery = period(731);
export const reconciliationQuery = period(93);
/** Reports that ask Stripe for the period's objects (reasons, fees, payouts): JSON or CSV. */
export const stripePeriodQuery = z
  .object({ ...csvOptions, from: reportDay, to: reportDay.meta({ description: 'Inclusive' }) })
  .refine(({ from, to }) => from <= to, { message: 'from must not be after to', path: ['to'] })
  .refine(({ from, to }) => Date.parse(to) - Date.parse(from) < 93 * 86_400_000, {
    message: 'the range may be at most 93 days',
    path: ['to'],
  });
export const revenueQuery = z
  .object({
    ...csvOptions,
    by: z.enum(['day', 'month']).default('month'),
    from: reportMonthOrDay,
    to: reportMonthOrDay.meta({ description: 'Inclusive; a month means all its days' }),
  })
  .refine(({ from, to }) => from.slice(0, 7) <= to.slice(0, 7) && from <= `${to}-31`, {
    message: 'from must not be after to',
    path: ['to'],
  });
/** The attribution report and funnel: one campaign (`-`: checkouts without one), up to 93 days. */
export const attributionQuery = z
  .object({
    ...csvOptions,
    campaign: z
      .string()
      .regex(/^([a-z0-9-]{1,60})$/)
      .default('-')
      .meta({ description: 'A campaign slug; `-` for checkouts that named none' }),
    from: reportDay,
    to: reportDay.meta({ description: 'Inclusive' }),
  })
  .refine(({ from, to }) => from <= to, { message: 'from must not be after to', path: ['to'] })
  .refine(({ from, to }) => Date.parse(to) - Date.parse(from) < 93 * 86_400_000, {
    message: 'the range may be at most 93 days',
    path: ['to'],
  });
