import { z } from 'zod';

// How a setting describes itself once (src/config/schema.ts declares them all).

export const GROUPS = {
  process: 'Process',
  sessions: 'Member sessions',
  memberSite: 'The site knows its members (src/accounts/)',
  staff: 'Staff sign-in',
  transparency: 'Verifiable drive count (src/campaigns/drive-log/)',
  sponsorship: 'Sponsor a reader (src/sponsorship/)',
  fixedTime: 'Answers in fixed time (src/http/fixed-time.ts)',
  database: 'Database',
  stripe: 'Stripe',
  campaigns: 'Campaigns',
  gifts: 'Gifts',
  newsletters: 'Newsletters',
  email: 'Email',
  jobs: 'Background jobs',
  integrations: 'Outgoing webhooks (src/integrations/)',
  brand: 'Branding (email layout, reader pages, console)',
} as const;

export interface Setting {
  group: keyof typeof GROUPS;
  description: string;
  /** A value to show where there is no default (docs only; never used). */
  example?: string;
  /** Production refuses to start without it (`required`) or with it (`unset`). */
  production?: 'required' | 'unset';
  /** Production refuses a smaller value: the default is what the setting is for (see its description). */
  productionMin?: number;
  /** Any other rule production adds, in words, for the docs (checked in `configSchema` below). */
  productionRule?: string;
}

/** The description of each variable, read by the docs renderer and by the production checks. */
export const settings = z.registry<Setting>();

export function setting<T extends z.ZodType>(schema: T, meta: Setting): T {
  settings.add(schema, meta);
  return schema;
}

export const boolean = z.enum(['true', 'false']).transform((v) => v === 'true');
export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const answerMs = z.coerce.number().int().nonnegative().max(10_000);
export const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #1a73e8');
