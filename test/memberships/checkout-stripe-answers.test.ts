import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

// Stripe keeps the first answer to an idempotency key and refuses the same key with other
// parameters (the recorder plays that part, as Stripe documents it). A reader's browser that
// retries a checkout must get the session it already has, not a conflict.

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder({
    idempotency: true,
    // Stripe's answer to a customer who pays in GBP choosing another currency (its wording).
    answer: ({ path, params }) =>
      path === '/v1/checkout/sessions' &&
      params.customer === 'cus_pays_gbp' &&
      params['line_items[0][price_data][currency]'] !== 'gbp'
        ? {
            status: 400,
            body: {
              error: {
                type: 'invalid_request_error',
                message:
                  'You cannot combine currencies on a single customer. This customer has an active subscription, subscription schedule, discount, quote, or invoice item with currency gbp.',
              },
            },
          }
        : undefined,
  });
  app = await startTestApp({
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const checkout = (body: Record<string, unknown>, key?: string) =>
  fetch(`${app.url}/memberships/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });

const membership = {
  kind: 'membership',
  plan: 'supporter',
  interval: 'month',
  currency: 'eur',
  email: 'olena@example.com',
};

describe('checkout retries', () => {
  it('when a checkout is retried with the same Idempotency-Key, then the reader gets the original session', async () => {
    const first = await checkout(membership, 'retry-0001');
    const again = await checkout(membership, 'retry-0001');
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    const sent = recorder.requests.filter((r) => r.idempotencyKey === 'checkout:retry-0001');
    expect(sent.map((r) => r.status)).toEqual([200, 200]);
  });

  it('when the same Idempotency-Key comes with another request, then it is refused with 409 and no session', async () => {
    expect((await checkout(membership, 'retry-0002')).status).toBe(201);
    const other = await checkout({ ...membership, interval: 'year' }, 'retry-0002');
    expect(other.status).toBe(409);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
  });

  it('when two checkouts come without a key, then each is a session of its own', async () => {
    const before = recorder.requests.length;
    expect((await checkout(membership)).status).toBe(201);
    expect((await checkout(membership)).status).toBe(201);
    const [a, b] = recorder.requests.slice(before);
    expect(a!.params['metadata[reference]']).not.toBe(b!.params['metadata[reference]']);
    expect(a!.idempotencyKey).not.toBe(b!.idempotencyKey);
  });
});

describe('a member paying in another currency', () => {
  it('when a member who pays in GBP picks EUR, then 409 currency_conflict says to choose GBP', async () => {
    await membershipModels(app.deps.db).Member.create({
      email: 'pays-gbp@example.com',
      stripeCustomerId: 'cus_pays_gbp',
      status: 'canceled',
      source: 'checkout',
      joinedAt: new Date(),
      joinedVia: 'sub_gbp',
    });
    const res = await checkout({ ...membership, plan: 'custom', amount: 900, email: 'pays-gbp@example.com' });
    expect(res.status).toBe(409);
    const { error } = (await res.json()) as { error: { code: string; message: string; details: unknown } };
    expect(error.code).toBe('currency_conflict');
    expect(error.message).toContain('Choose GBP');
    expect(error.details).toEqual([{ path: 'currency', message: 'Choose GBP' }]);
  });
});
