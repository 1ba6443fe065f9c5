import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_TEMPLATES } from '../../src/email/catalog.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
let capture: SendgridCapture;
const clock = manualClock();

beforeAll(async () => {
  db = await createTestDatabase();
  capture = await startSendgridCapture();
});
afterAll(async () => {
  await capture.close();
  await releaseTestDatabase(db);
});

// Sign-in, confirmation and redemption links are secrets: a tracking domain that rewrites them
// would fetch them first (spending single-use links) and keep the secret in its own logs.
const SENSITIVE = ['account-sign-in', 'newsletter-confirmation', 'gift-delivery'] as const;

describe('click tracking', () => {
  it('when sign-in, confirmation and gift redemption emails go out, then SendGrid is told not to rewrite their links', async () => {
    for (const template of SENSITIVE) {
      await enqueueEmail(db, clock, {
        template,
        to: { email: `${template}@example.com` },
        data: EMAIL_TEMPLATES[template].sample,
        idempotencyKey: `click-tracking:${template}`,
      } as Parameters<typeof enqueueEmail>[2]);
    }
    expect(await workerAgainstCapture(db, capture, clock).drain()).toBe(SENSITIVE.length);
    const sent = capture.accepted();
    expect(sent.map((r) => r.body.categories[0]).sort()).toEqual([...SENSITIVE].sort());
    for (const request of sent) {
      expect({ template: request.body.categories[0], tracking: request.body.tracking_settings }).toEqual({
        template: request.body.categories[0],
        tracking: { click_tracking: { enable: false, enable_text: false } },
      });
    }
  });
});
