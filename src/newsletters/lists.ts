import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const newsletterListSchema = z.object({
  slug: z.string().regex(/^[a-z0-9-]{1,40}$/),
  name: z.string().min(1).max(80),
  description: z.string().max(300).default(''),
  language: z.enum(['en', 'uk']).default('en'),
  visible: z.boolean().default(true),
  /** The SendGrid Marketing list confirmed subscribers are synced to. */
  sendgridListId: z.string().optional(),
});
export type NewsletterList = z.infer<typeof newsletterListSchema>;

export const DEFAULT_LISTS: NewsletterList[] = [
  {
    slug: 'editors-picks',
    name: "Editors' Picks",
    description: 'The week’s best stories, every Friday.',
    language: 'en',
    visible: true,
  },
  {
    slug: 'explaining-ukraine',
    name: 'Explaining Ukraine',
    description: 'Context behind the headlines.',
    language: 'en',
    visible: true,
  },
  {
    slug: 'daily',
    name: 'Щоденні новини',
    description: 'Головне за день, щоранку.',
    language: 'uk',
    visible: true,
  },
];

export function loadLists(file: string | undefined): NewsletterList[] {
  if (!file) return DEFAULT_LISTS;
  return z
    .array(newsletterListSchema)
    .min(1)
    .parse(JSON.parse(readFileSync(file, 'utf8')));
}
