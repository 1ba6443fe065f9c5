import { z } from 'zod';
import type { EmailKind } from './email.model.js';

// Every email the service sends: what data its template needs, what kind of message it is, and
// sample data for the preview route. Each template's files live in templates/emails/<name>/.

interface TemplateDefinition<S extends z.ZodType> {
  kind: EmailKind;
  data: S;
  sample: z.infer<S>;
  /** Data that must not outlive the send (a redemption link): blanked in the outbox once sent. */
  secretFields?: string[];
}

const define = <S extends z.ZodType>(definition: TemplateDefinition<S>) => definition;

const name = z.string().max(200).optional();

export const EMAIL_TEMPLATES = {
  'newsletter-confirmation': define({
    kind: 'transactional',
    data: z.object({ name, lists: z.array(z.string()).min(1), confirmUrl: z.url() }),
    sample: {
      name: 'Olena',
      lists: ["Editors' Picks", 'Explaining Ukraine'],
      confirmUrl: 'http://localhost:3000/newsletters/confirm?token=sample',
    },
  }),
  'member-welcome': define({
    kind: 'transactional',
    data: z.object({ name, planName: z.string(), accountUrl: z.url() }),
    sample: { name: 'Olena', planName: 'Supporter, monthly', accountUrl: 'http://localhost:3000/account' },
  }),
  'contribution-receipt': define({
    kind: 'receipt',
    data: z.object({
      name,
      amount: z.number().int().positive(),
      currency: z.string().length(3),
      paidAt: z.iso.datetime(),
      reference: z.string(),
      /** Stripe's receipt page for the payment, when Stripe told us it. */
      receiptUrl: z.url().optional(),
      charityStatement: z.string().optional(),
    }),
    sample: {
      name: 'Olena',
      amount: 2500,
      currency: 'EUR',
      paidAt: '2026-11-27T10:00:00Z',
      reference: 'ch_sample',
      receiptUrl: 'https://pay.stripe.com/receipts/payment/sample',
      charityStatement: 'The Newsroom is a registered charity, no. 1234567.',
    },
  }),
  'payment-failed': define({
    kind: 'transactional',
    data: z.object({
      name,
      amount: z.number().int().nonnegative(),
      currency: z.string().length(3),
      updateUrl: z.url(),
    }),
    sample: { name: 'Olena', amount: 500, currency: 'EUR', updateUrl: 'http://localhost:3000/account' },
  }),
  'payment-action-required': define({
    kind: 'transactional',
    data: z.object({
      name,
      amount: z.number().int().nonnegative(),
      currency: z.string().length(3),
      confirmUrl: z.url(),
    }),
    sample: {
      name: 'Olena',
      amount: 5000,
      currency: 'EUR',
      confirmUrl: 'https://invoice.stripe.com/i/acct_sample/test_sample',
    },
  }),
  'renewal-reminder': define({
    kind: 'transactional',
    data: z.object({
      name,
      amount: z.number().int().nonnegative(),
      currency: z.string().length(3),
      renewsAt: z.iso.datetime(),
      manageUrl: z.url(),
    }),
    sample: {
      name: 'Olena',
      amount: 5000,
      currency: 'EUR',
      renewsAt: '2026-12-24T10:00:00Z',
      manageUrl: 'http://localhost:3000/account',
    },
  }),
  'supporter-statement': define({
    kind: 'receipt',
    data: z.object({
      name,
      year: z.number().int(),
      totals: z
        .array(
          z.object({
            currency: z.string().length(3),
            payments: z.number().int().positive(),
            net: z.number().int(),
          }),
        )
        .min(1),
      charityStatement: z.string().optional(),
    }),
    sample: {
      name: 'Olena',
      year: 2026,
      totals: [{ currency: 'EUR', payments: 12, net: 6000 }],
      charityStatement: 'The Newsroom is a registered charity, no. 1234567.',
    },
  }),
  'membership-canceled': define({
    kind: 'transactional',
    data: z.object({ name, rejoinUrl: z.url() }),
    sample: { name: 'Olena', rejoinUrl: 'http://localhost:3000/membership' },
  }),
  'account-sign-in': define({
    kind: 'transactional',
    data: z.object({ name, signInUrl: z.url(), expiresInMinutes: z.number().int().positive() }),
    sample: {
      name: 'Olena',
      signInUrl: 'http://localhost:3000/account/sign-in/verify?token=sample',
      expiresInMinutes: 15,
    },
  }),
  'campaign-milestone': define({
    kind: 'transactional',
    data: z.object({
      name,
      campaignTitle: z.string(),
      percent: z.number().int().positive(),
      count: z.number().int().nonnegative(),
      goal: z.number().int().positive(),
    }),
    sample: {
      name: 'Maria',
      campaignTitle: '1,000 new members for our birthday',
      percent: 50,
      count: 500,
      goal: 1000,
    },
  }),
  // To finance and admins: a refund Stripe could not deliver (src/memberships/charge.events.ts).
  'refund-failed': define({
    kind: 'transactional',
    data: z.object({
      name,
      refundId: z.string(),
      chargeId: z.string(),
      amount: z.number().int().positive(),
      currency: z.string().length(3),
      reason: z.string(),
      supporterEmail: z.string().optional(),
      failedAt: z.iso.datetime(),
    }),
    sample: {
      name: 'Maria',
      refundId: 're_3Qsample',
      chargeId: 'ch_3Qsample',
      amount: 1500,
      currency: 'eur',
      reason: 'expired_or_canceled_card',
      supporterEmail: 'reader@example.org',
      failedAt: '2026-11-20T10:00:00.000Z',
    },
  }),
  'newsletter-welcome': define({
    kind: 'transactional',
    data: z.object({ name, lists: z.array(z.string()).min(1), preferencesUrl: z.url(), dataUrl: z.url() }),
    sample: {
      name: 'Olena',
      lists: ["Editors' Picks"],
      preferencesUrl: 'http://localhost:3000/newsletters/unsubscribe?e=sample',
      dataUrl: 'http://localhost:3000/newsletters/my-data?e=sample',
    },
  }),
  'gift-receipt': define({
    kind: 'receipt',
    data: z.object({
      name,
      recipientName: z.string(),
      durationMonths: z.number().int().positive(),
      amount: z.number().int().positive(),
      currency: z.string().length(3),
      deliverOn: z.string(),
      manageUrl: z.url(),
      receiptUrl: z.url().optional(),
      charityStatement: z.string().optional(),
    }),
    sample: {
      name: 'Olena',
      recipientName: 'Taras',
      durationMonths: 12,
      amount: 5000,
      currency: 'EUR',
      deliverOn: '24 December 2026',
      manageUrl: 'http://localhost:3000/gifts/manage?g=sample',
    },
  }),
  'sponsorship-confirm': define({
    kind: 'transactional',
    data: z.object({ campaignTitle: z.string(), confirmUrl: z.url() }),
    sample: {
      campaignTitle: '1,000 new members for our birthday',
      confirmUrl: 'http://localhost:3000/sponsorships/confirm?request=sample&token=sample',
    },
    secretFields: ['confirmUrl'],
  }),
  'sponsorship-declined': define({
    kind: 'transactional',
    data: z.object({ campaignTitle: z.string() }),
    sample: { campaignTitle: '1,000 new members for our birthday' },
  }),
  'sponsor-report': define({
    kind: 'transactional',
    data: z.object({
      campaignTitle: z.string(),
      readers: z.number().int().nonnegative(),
      months: z.number().int(),
    }),
    sample: { campaignTitle: '1,000 new members for our birthday', readers: 3, months: 12 },
  }),
  'gift-delivery': define({
    kind: 'transactional',
    data: z.object({
      recipientName: z.string(),
      fromName: z.string().optional(),
      message: z.string(),
      durationMonths: z.number().int().positive(),
      redeemUrl: z.url(),
    }),
    sample: {
      recipientName: 'Taras',
      fromName: 'Olena',
      message: 'Happy birthday!',
      durationMonths: 12,
      redeemUrl: 'http://localhost:3000/gifts/redeem?code=sample',
    },
    secretFields: ['redeemUrl'],
  }),
  'gift-redeemed': define({
    kind: 'transactional',
    data: z.object({ name, recipientName: z.string() }),
    sample: { name: 'Olena', recipientName: 'Taras' },
  }),
  'gift-reminder': define({
    kind: 'transactional',
    data: z.object({
      recipientName: z.string(),
      durationMonths: z.number().int().positive(),
      redeemUrl: z.url(),
    }),
    sample: {
      recipientName: 'Taras',
      durationMonths: 12,
      redeemUrl: 'http://localhost:3000/gifts/redeem?code=sample',
    },
    secretFields: ['redeemUrl'],
  }),
  'gift-expired': define({
    kind: 'transactional',
    data: z.object({ name, recipientName: z.string() }),
    sample: { name: 'Olena', recipientName: 'Taras' },
  }),
  'gift-ending': define({
    kind: 'transactional',
    data: z.object({ name, endsOn: z.string(), continueUrl: z.url() }),
    sample: {
      name: 'Taras',
      endsOn: '24 December 2027',
      continueUrl: 'http://localhost:3000/gifts/continue?m=sample',
    },
  }),
  /** To admins: outgoing webhooks to this endpoint stopped (src/integrations/). */
  'webhook-endpoint-disabled': define({
    kind: 'transactional',
    data: z.object({
      name,
      url: z.string(),
      endpointId: z.string(),
      failingSince: z.iso.datetime(),
      lastError: z.string(),
    }),
    sample: {
      name: 'Maria',
      url: 'https://hooks.example.org/membership',
      endpointId: 'ep_sample',
      failingSince: '2026-11-20T10:00:00.000Z',
      lastError: 'the receiver answered 503',
    },
  }),
} as const;

export type TemplateName = keyof typeof EMAIL_TEMPLATES;
export type TemplateData<T extends TemplateName> = z.infer<(typeof EMAIL_TEMPLATES)[T]['data']>;

// The languages are the message catalogue's (src/shared/messages.ts): one list for pages, emails and embeds.
export { DEFAULT_LOCALE, LOCALES, type Locale } from '../shared/messages.js';

export function isTemplateName(value: string): value is TemplateName {
  return Object.hasOwn(EMAIL_TEMPLATES, value);
}
