import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient, STRIPE_API_VERSION } from '../../src/infra/stripe.js';
import { DEFAULT_PLANS, type Plans } from '../../src/memberships/plans.js';
import { catalogModels } from '../../src/memberships/stripe-catalog.js';
import { setupStripe } from '../../src/memberships/stripe-setup.js';
import { STRIPE_EVENT_HANDLERS } from '../../webhooks/stripe-handlers.js';
import { spawnScript } from '../support/server-process.js';
import { type PlantedAnswer, startStripeRecorder } from '../support/stripe-recorder.js';
import { createTestDatabase, databaseUri, releaseTestDatabase, TEST_ENV } from '../support/test-app.js';

// `npm run stripe:setup` through the recording proxy to stripe-mock: what Stripe received for the
// products, prices (lookup keys), the Customer Portal configuration and the webhook endpoint.

const URL_BASE = 'https://members.newsroom.example';
const HANDLED = Object.keys(STRIPE_EVENT_HANDLERS).sort();

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

/** `name[0]`, `name[1]`, … of a recorded form body, in order. */
const list = (params: Record<string, string>, name: string) =>
  Object.keys(params)
    .filter((k) => new RegExp(`^${name.replace(/[[\]]/g, '\\$&')}\\[\\d+\\]$`).test(k))
    .sort((a, b) => Number(/\[(\d+)\]$/.exec(a)![1]) - Number(/\[(\d+)\]$/.exec(b)![1]))
    .map((k) => params[k]);

// stripe-mock v0.203.0 (the newest published) validates against a spec whose api_version enum
// ends at 2026-08-26.dahlia, one release before the version the stripe package (and our pin) is
// typed for, so it refuses to create an endpoint on the pinned version. That one answer is
// planted, as Stripe gives it; the request itself is still recorded exactly as sent.
const endpointCreated: PlantedAnswer = ({ method, path, params }) =>
  method === 'POST' && path === '/v1/webhook_endpoints'
    ? {
        status: 200,
        body: {
          id: 'we_created',
          object: 'webhook_endpoint',
          url: params.url,
          api_version: params.api_version,
          enabled_events: list(params, 'enabled_events'),
          secret: 'whsec_shown_once',
          status: 'enabled',
          metadata: {},
        },
      }
    : undefined;

async function runSetup(answer: PlantedAnswer, plans: Plans = DEFAULT_PLANS) {
  const recorder = await startStripeRecorder({ answer });
  try {
    const report = await setupStripe({
      db,
      stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection)!,
      plans,
      publicBaseUrl: URL_BASE,
      brandName: 'The Newsroom',
      events: Object.keys(STRIPE_EVENT_HANDLERS),
    });
    return { report, requests: [...recorder.requests] };
  } finally {
    await recorder.close();
  }
}

describe('npm run stripe:setup on a fresh account', () => {
  it('when run, then each tier is a Product, each tier × interval × currency a Price with its lookup key, the Portal switches between them, and the endpoint sends exactly the handled events in the pinned version', async () => {
    // The fresh account: no patron product yet (stripe-mock answers every retrieve with a T-shirt).
    const { report, requests } = await runSetup((request) =>
      request.method === 'GET' && request.path === '/v1/products/membership-patron'
        ? {
            status: 404,
            body: {
              error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such product' },
            },
          }
        : endpointCreated(request),
    );
    expect(requests.every((r) => r.status === 200 || r.path === '/v1/products/membership-patron')).toBe(true);

    // Products: the supporter product exists but says "T-shirt" (updated); the patron one is created.
    const productWrites = requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/products'));
    expect(productWrites.map((r) => ({ path: r.path, params: r.params, key: r.idempotencyKey }))).toEqual([
      {
        path: '/v1/products/membership-supporter',
        params: {
          name: 'Supporter membership',
          description: 'Keep our journalism free for everyone.',
          'metadata[app]': 'membership-drive',
          'metadata[tier]': 'supporter',
          active: 'true',
        },
        key: expect.any(String),
      },
      {
        path: '/v1/products',
        params: {
          id: 'membership-patron',
          name: 'Patron membership',
          description: 'Fund an investigation a year, and meet the newsroom.',
          'metadata[app]': 'membership-drive',
          'metadata[tier]': 'patron',
        },
        key: 'stripe-setup:product:membership-patron',
      },
    ]);
    expect(report.products).toEqual([
      { id: 'membership-supporter', action: 'updated' },
      { id: 'membership-patron', action: 'created' },
    ]);

    // Prices: each looked up by its key, none found, so each created with it.
    const lookups = requests.filter((r) => r.method === 'GET' && r.path === '/v1/prices');
    expect(lookups.map((r) => r.params)).toEqual(
      report.prices.map((p) => ({ 'lookup_keys[0]': p.lookupKey, limit: '1' })),
    );
    const priceCreates = requests.filter((r) => r.method === 'POST' && r.path === '/v1/prices');
    expect(priceCreates).toHaveLength(12);
    expect(priceCreates[0]).toMatchObject({
      idempotencyKey: 'stripe-setup:price:membership:supporter:month:usd:500',
      params: {
        product: 'membership-supporter',
        currency: 'usd',
        unit_amount: '500',
        'recurring[interval]': 'month',
        lookup_key: 'membership:supporter:month:usd',
        transfer_lookup_key: 'true',
        tax_behavior: 'inclusive',
        nickname: 'Supporter, monthly (USD)',
        'metadata[app]': 'membership-drive',
        'metadata[tier]': 'supporter',
        'metadata[interval]': 'month',
      },
    });
    expect(priceCreates.map((r) => [r.params.lookup_key, r.params.unit_amount])).toEqual([
      ['membership:supporter:month:usd', '500'],
      ['membership:supporter:year:usd', '5000'],
      ['membership:supporter:month:eur', '500'],
      ['membership:supporter:year:eur', '5000'],
      ['membership:supporter:month:gbp', '400'],
      ['membership:supporter:year:gbp', '4000'],
      ['membership:patron:month:usd', '1500'],
      ['membership:patron:year:usd', '15000'],
      ['membership:patron:month:eur', '1500'],
      ['membership:patron:year:eur', '15000'],
      ['membership:patron:month:gbp', '1200'],
      ['membership:patron:year:gbp', '12000'],
    ]);
    // What Checkout will use, by lookup key.
    const stored = await catalogModels(db).CatalogPrice.findById('membership:patron:year:gbp').lean();
    expect(stored).toMatchObject({ tier: 'patron', interval: 'year', currency: 'gbp', unitAmount: 12000 });
    expect(stored!.priceId).toMatch(/^price_/);

    // The Portal: no configuration of ours yet (stripe-mock's has no metadata), so one is created.
    const portal = requests.find(
      (r) => r.method === 'POST' && r.path === '/v1/billing_portal/configurations',
    )!;
    const supporterPrices = report.prices.filter((p) => p.lookupKey.startsWith('membership:supporter:'));
    const patronPrices = report.prices.filter((p) => p.lookupKey.startsWith('membership:patron:'));
    expect(portal.params).toEqual({
      'business_profile[headline]': 'The Newsroom membership',
      default_return_url: `${URL_BASE}/account`,
      'features[customer_update][enabled]': 'true',
      'features[customer_update][allowed_updates][0]': 'email',
      'features[customer_update][allowed_updates][1]': 'name',
      'features[customer_update][allowed_updates][2]': 'address',
      'features[customer_update][allowed_updates][3]': 'tax_id',
      'features[invoice_history][enabled]': 'true',
      'features[payment_method_update][enabled]': 'true',
      'features[subscription_cancel][enabled]': 'true',
      'features[subscription_cancel][mode]': 'at_period_end',
      'features[subscription_cancel][proration_behavior]': 'none',
      'features[subscription_cancel][cancellation_reason][enabled]': 'true',
      ...Object.fromEntries(
        [
          'too_expensive',
          'missing_features',
          'switched_service',
          'unused',
          'customer_service',
          'too_complex',
          'low_quality',
          'other',
        ].map((o, i) => [`features[subscription_cancel][cancellation_reason][options][${i}]`, o]),
      ),
      'features[subscription_update][enabled]': 'true',
      'features[subscription_update][default_allowed_updates][0]': 'price',
      'features[subscription_update][proration_behavior]': 'create_prorations',
      'features[subscription_update][products][0][product]': 'membership-supporter',
      ...Object.fromEntries(
        supporterPrices.map((p, i) => [
          `features[subscription_update][products][0][prices][${i}]`,
          p.priceId,
        ]),
      ),
      'features[subscription_update][products][1][product]': 'membership-patron',
      ...Object.fromEntries(
        patronPrices.map((p, i) => [`features[subscription_update][products][1][prices][${i}]`, p.priceId]),
      ),
      'metadata[app]': 'membership-drive',
    });
    const portalSetting = await catalogModels(db).StripeSetting.findById('portal-configuration').lean();
    expect(portalSetting?.value).toBe(report.portalConfiguration.id);

    // The endpoint: stripe-mock's one endpoint is elsewhere, so ours is created, on the pinned version.
    const endpoint = requests.find((r) => r.method === 'POST' && r.path === '/v1/webhook_endpoints')!;
    expect(list(endpoint.params, 'enabled_events')).toEqual(HANDLED);
    expect(HANDLED).toEqual(
      expect.arrayContaining(['invoice.payment_action_required', 'customer.updated', 'invoice.upcoming']),
    );
    expect(endpoint.params).toMatchObject({
      url: `${URL_BASE}/webhooks/stripe`,
      api_version: '2026-10-28.endive',
      'metadata[app]': 'membership-drive',
    });
    expect(STRIPE_API_VERSION).toBe('2026-10-28.endive');
    expect(report.webhookEndpoint).toEqual({
      id: 'we_created',
      action: 'created',
      url: `${URL_BASE}/webhooks/stripe`,
      apiVersion: '2026-10-28.endive',
      secret: 'whsec_shown_once',
    });
  });
});

describe('npm run stripe:setup on an account already set up', () => {
  // An account where everything setup makes exists, as Stripe would list it.
  const existing =
    (plans: Plans): PlantedAnswer =>
    ({ method, path, params }) => {
      const tier = /^\/v1\/products\/membership-(.+)$/.exec(path)?.[1];
      if (method === 'GET' && tier) {
        const t = DEFAULT_PLANS.tiers.find((x) => x.id === tier)!;
        return {
          status: 200,
          body: {
            id: `membership-${tier}`,
            object: 'product',
            active: true,
            name: `${t.name} membership`,
            description: t.description,
            metadata: { app: 'membership-drive', tier },
          },
        };
      }
      if (method === 'GET' && path === '/v1/prices') {
        const key = params['lookup_keys[0]']!;
        const [, tierId, interval, currency] = key.split(':') as [string, string, 'month' | 'year', 'usd'];
        const amount = plans.tiers.find((x) => x.id === tierId)!.prices[currency]![interval];
        const id = `price_${tierId}_${interval}_${currency}_${amount}`;
        return {
          status: 200,
          body: {
            object: 'list',
            has_more: false,
            url: '/v1/prices',
            data: [
              {
                id,
                object: 'price',
                active: true,
                lookup_key: key,
                unit_amount: amount,
                currency,
                recurring: { interval },
                product: `membership-${tierId}`,
              },
            ],
          },
        };
      }
      if (method === 'GET' && path === '/v1/billing_portal/configurations') {
        return {
          status: 200,
          body: {
            object: 'list',
            has_more: false,
            url: path,
            data: [
              {
                id: 'bpc_ours',
                object: 'billing_portal.configuration',
                metadata: { app: 'membership-drive' },
              },
            ],
          },
        };
      }
      if (method === 'GET' && path === '/v1/webhook_endpoints') {
        return {
          status: 200,
          body: {
            object: 'list',
            has_more: false,
            url: path,
            data: [
              {
                id: 'we_ours',
                object: 'webhook_endpoint',
                url: `${URL_BASE}/webhooks/stripe`,
                api_version: STRIPE_API_VERSION,
                enabled_events: ['checkout.session.completed'],
                metadata: {},
              },
            ],
          },
        };
      }
      return endpointCreated({ method, path, params });
    };

  it('when run again with nothing changed, then nothing is created: the Portal and the endpoint are brought up to date in place, and no secret is shown', async () => {
    const { report, requests } = await runSetup(existing(DEFAULT_PLANS));
    const writes = requests.filter((r) => r.method === 'POST');
    expect(writes.map((r) => r.path)).toEqual([
      '/v1/billing_portal/configurations/bpc_ours',
      '/v1/webhook_endpoints/we_ours',
    ]);
    expect(list(writes[1]!.params, 'enabled_events')).toEqual(HANDLED);
    expect(writes[1]!.params.disabled).toBe('false');
    expect(writes[1]!.params.api_version).toBeUndefined();
    expect(report.prices.every((p) => p.action === 'unchanged')).toBe(true);
    expect(report.webhookEndpoint.secret).toBeUndefined();
    const stored = await catalogModels(db).CatalogPrice.findById('membership:supporter:month:eur').lean();
    expect(stored?.priceId).toBe('price_supporter_month_eur_500');
  });

  it('when a tier’s amount changed in the plans, then a new Price takes over the lookup key and the old one is archived', async () => {
    const raised: Plans = structuredClone(DEFAULT_PLANS);
    raised.tiers[0]!.prices.eur!.month = 600;
    // Stripe still has the 5.00 price under the key.
    const { requests } = await runSetup(existing(DEFAULT_PLANS), raised);
    const writes = requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/prices'));
    expect(writes.map((r) => ({ path: r.path, params: r.params }))).toEqual([
      {
        path: '/v1/prices',
        params: expect.objectContaining({
          lookup_key: 'membership:supporter:month:eur',
          transfer_lookup_key: 'true',
          unit_amount: '600',
        }),
      },
      { path: '/v1/prices/price_supporter_month_eur_500', params: { active: 'false' } },
    ]);
    const stored = await catalogModels(db).CatalogPrice.findById('membership:supporter:month:eur').lean();
    expect(stored?.unitAmount).toBe(600);
    expect(stored?.priceId).not.toBe('price_supporter_month_eur_500');
  });
});

describe('the stripe:setup command', () => {
  it('when run, then it prints what it did and the new endpoint’s signing secret, once, for STRIPE_WEBHOOK_SECRET', async () => {
    const recorder = await startStripeRecorder({ answer: endpointCreated });
    try {
      const cli = spawnScript('src/cli/stripe-setup.ts', {
        MONGODB_URI: databaseUri(db.name),
        STRIPE_SECRET_KEY: TEST_ENV.STRIPE_SECRET_KEY,
        STRIPE_API_URL: `http://127.0.0.1:${recorder.connection.port}`,
        PUBLIC_BASE_URL: URL_BASE,
      });
      expect(await cli.exited).toBe(0);
      expect(cli.output()).toContain('price membership:patron:year:gbp → price_');
      expect(cli.output()).toContain(
        `webhook endpoint we_created (${URL_BASE}/webhooks/stripe, API 2026-10-28.endive): created`,
      );
      expect(cli.output()).toContain('STRIPE_WEBHOOK_SECRET=whsec_shown_once');
      expect(
        recorder.requests.filter((r) => r.method === 'POST' && r.path === '/v1/webhook_endpoints'),
      ).toHaveLength(1);
    } finally {
      await recorder.close();
    }
  });

  it('when no Stripe key is set, then it says so and exits 78', async () => {
    const cli = spawnScript('src/cli/stripe-setup.ts', { MONGODB_URI: databaseUri(db.name) });
    expect(await cli.exited).toBe(78);
    expect(cli.output()).toContain('STRIPE_SECRET_KEY is not set');
  });
});
