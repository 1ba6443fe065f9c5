import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A scripted Stripe account for money questions stripe-mock cannot answer (its fixtures are
// fixed): charges, refunds and disputes with their balance transactions, fees and exchange rates,
// served on the same REST paths, with Stripe's list pagination and `expand`. Tests plant exactly
// the money they want Stripe to report, including money our ledger never heard of.

type StripeObject = Record<string, unknown> & { id: string; created: number };

export interface Settle {
  /** Settlement currency and the rate from the charge's currency into it. */
  currency?: string;
  rate?: number;
}

export async function startFakeStripe() {
  const objects = new Map<string, StripeObject>();
  const requests: { path: string; query: URLSearchParams }[] = [];
  /** Paths (as `/v1/…`) that answer Stripe's 500 `api_error`: one failing call in a report. */
  const failing = new Set<string>();
  let seq = 0;
  /** Which payout carried a balance transaction (Stripe does not show it on the transaction). */
  const payoutOf = new Map<string, string>();
  const nextId = (prefix: string) => `${prefix}_fake${(++seq).toString().padStart(6, '0')}`;

  function balanceTransaction(
    input: {
      amount: number;
      currency: string;
      created: number;
      fee: number;
      source: string;
      category: string;
    },
    settle: Settle = {},
  ) {
    const currency = settle.currency ?? input.currency;
    const amount = settle.rate
      ? Math.sign(input.amount) * Math.round(Math.abs(input.amount) * settle.rate)
      : input.amount;
    const bt = {
      id: nextId('txn'),
      object: 'balance_transaction',
      amount,
      currency,
      exchange_rate: settle.rate ?? null,
      fee: input.fee,
      net: amount - input.fee,
      created: input.created,
      reporting_category: input.category,
      type:
        input.category === 'dispute' || input.category === 'dispute_reversal' ? 'adjustment' : input.category,
      source: input.source,
      status: 'available',
    };
    objects.set(bt.id, bt);
    return bt;
  }

  const world = {
    /** A succeeded card payment (2.9% + 30 fee in the settlement currency). */
    charge(input: {
      id?: string;
      amount: number;
      currency: string;
      created: number;
      paymentIntent?: string;
      invoice?: string;
      settle?: Settle;
    }) {
      const id = input.id ?? nextId('ch');
      const paymentIntent = input.paymentIntent ?? nextId('pi');
      const settled = input.settle?.rate ? Math.round(input.amount * input.settle.rate) : input.amount;
      const bt = balanceTransaction(
        { ...input, fee: Math.round(settled * 0.029) + 30, source: id, category: 'charge' },
        input.settle,
      );
      objects.set(id, {
        id,
        object: 'charge',
        amount: input.amount,
        amount_captured: input.amount,
        currency: input.currency,
        created: input.created,
        payment_intent: paymentIntent,
        balance_transaction: bt.id,
        status: 'succeeded',
      });
      objects.set(paymentIntent, {
        id: paymentIntent,
        object: 'payment_intent',
        amount: input.amount,
        currency: input.currency,
        created: input.created,
        latest_charge: id,
        status: 'succeeded',
      });
      if (input.invoice) {
        const ipId = nextId('inpay');
        objects.set(ipId, {
          id: ipId,
          object: 'invoice_payment',
          invoice: input.invoice,
          created: input.created,
          status: 'paid',
          payment: { type: 'payment_intent', payment_intent: paymentIntent },
        });
      }
      return { chargeId: id, paymentIntentId: paymentIntent, balanceTransaction: bt };
    },
    refund(input: { charge: string; amount: number; created: number; settle?: Settle; reason?: string }) {
      const charge = objects.get(input.charge)!;
      const id = nextId('re');
      const bt = balanceTransaction(
        {
          amount: -input.amount,
          currency: String(charge.currency),
          created: input.created,
          fee: 0,
          source: id,
          category: 'refund',
        },
        input.settle,
      );
      objects.set(id, {
        id,
        object: 'refund',
        amount: input.amount,
        currency: charge.currency,
        charge: input.charge,
        created: input.created,
        status: 'succeeded',
        reason: input.reason ?? null,
        balance_transaction: bt.id,
      });
      return { refundId: id, balanceTransaction: bt };
    },
    /** The refund fails later: Stripe books its money back (a `refund_failure` balance transaction). */
    failRefund(
      refundId: string,
      input: { created: number; reason?: string; status?: 'failed' | 'canceled' },
    ) {
      const refund = objects.get(refundId)!;
      const bt = balanceTransaction({
        amount: Number(refund.amount),
        currency: String(refund.currency),
        created: input.created,
        fee: 0,
        source: refundId,
        category: 'refund_failure',
      });
      const failed = {
        ...refund,
        status: input.status ?? 'failed',
        failure_reason: input.reason ?? 'expired_or_canceled_card',
        failure_balance_transaction: bt.id,
      };
      objects.set(refundId, failed);
      return { refund: failed, balanceTransaction: bt };
    },
    /**
     * A dispute of a charge: a chargeback withdraws the amount and a 15.00 fee (and `won` gives both
     * back); an `inquiry` moves nothing. `status` overrides what those imply (`lost`, `warning_closed`).
     */
    dispute(input: {
      id: string;
      charge: string;
      created: number;
      won?: number;
      inquiry?: boolean;
      status?: string;
      settle?: Settle;
      reason?: string;
    }) {
      const charge = objects.get(input.charge)!;
      const amount = Number(charge.amount);
      const currency = String(charge.currency);
      const transactions = input.inquiry
        ? []
        : [
            balanceTransaction(
              {
                amount: -amount,
                currency,
                created: input.created,
                fee: 1500,
                source: input.id,
                category: 'dispute',
              },
              input.settle,
            ),
          ];
      if (input.won)
        transactions.push(
          balanceTransaction(
            {
              amount,
              currency,
              created: input.won,
              fee: -1500,
              source: input.id,
              category: 'dispute_reversal',
            },
            input.settle,
          ),
        );
      objects.set(input.id, {
        id: input.id,
        object: 'dispute',
        amount,
        currency,
        charge: input.charge,
        created: input.created,
        status:
          input.status ?? (input.inquiry ? 'warning_needs_response' : input.won ? 'won' : 'needs_response'),
        reason: input.reason ?? 'general',
        balance_transactions: transactions,
      });
    },
    /** Any object the account holds as given (customers, subscriptions, invoices, charges of an account a test adopts). */
    put<T extends StripeObject>(object: T): T {
      objects.set(object.id, object);
      return object;
    },
    get: (id: string) => objects.get(id),
    /**
     * A payout to the bank: its own withdrawal from the balance and, for an automatic payout, the
     * balance transactions it carried (`carries`), listed by `balance_transactions?payout=`.
     */
    payout(input: {
      amount: number;
      currency: string;
      created: number;
      /** Default: two days after `created`. */
      arrival?: number;
      carries?: string[];
      automatic?: boolean;
      status?: string;
    }) {
      const id = nextId('po');
      const bt = balanceTransaction({
        amount: -input.amount,
        currency: input.currency,
        created: input.created,
        fee: 0,
        source: id,
        category: 'payout',
      });
      for (const carried of [bt.id, ...(input.carries ?? [])]) payoutOf.set(carried, id);
      const payout = {
        id,
        object: 'payout',
        amount: input.amount,
        currency: input.currency,
        created: input.created,
        arrival_date: input.arrival ?? input.created + 2 * 86_400,
        automatic: input.automatic ?? true,
        balance_transaction: bt.id,
        failure_balance_transaction: null as string | null,
        failure_code: null as string | null,
        failure_message: null as string | null,
        method: 'standard',
        reconciliation_status: input.automatic === false ? 'not_applicable' : 'completed',
        source_type: 'card',
        status: input.status ?? 'paid',
        type: 'bank_account',
      };
      objects.set(id, payout);
      return payout;
    },
    /** The bank refused the payout: Stripe returns its money to the balance (`payout_failure`). */
    failPayout(payoutId: string, input: { created: number; code?: string; message?: string }) {
      const payout = objects.get(payoutId)!;
      const bt = balanceTransaction({
        amount: Number(payout.amount),
        currency: String(payout.currency),
        created: input.created,
        fee: 0,
        source: payoutId,
        category: 'payout_reversal',
      });
      Object.assign(bt, { type: 'payout_failure' });
      objects.set(payoutId, {
        ...payout,
        status: 'failed',
        failure_balance_transaction: bt.id,
        failure_code: input.code ?? 'account_closed',
        failure_message: input.message ?? 'The bank account has been closed.',
      });
      return bt;
    },
  };

  function expand(value: unknown, path: string[]): unknown {
    if (path.length === 0) return value;
    if (Array.isArray(value)) return value.map((v) => expand(v, path));
    const [head, ...rest] = path as [string, ...string[]];
    const object = (typeof value === 'string' ? objects.get(value) : value) as
      | Record<string, unknown>
      | undefined;
    if (!object) return value;
    const copy = { ...object };
    copy[head] = expand(
      typeof copy[head] === 'string' ? (objects.get(copy[head] as string) ?? copy[head]) : copy[head],
      rest,
    );
    return copy;
  }
  const expansions = (query: URLSearchParams) =>
    [...query.entries()].filter(([key]) => key.startsWith('expand')).map(([, path]) => path.split('.'));
  const expandOne = (object: unknown, query: URLSearchParams) =>
    expansions(query).reduce((o, path) => expand(o, path), object);

  function list(items: StripeObject[], query: URLSearchParams, url: string) {
    const sorted = items.sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
    const after = query.get('starting_after');
    const start = after ? sorted.findIndex((o) => o.id === after) + 1 : 0;
    const limit = Number(query.get('limit') ?? 10);
    const page = sorted.slice(start, start + limit);
    const itemPaths = expansions(query)
      .filter((p) => p[0] === 'data')
      .map((p) => p.slice(1));
    return {
      object: 'list',
      url,
      has_more: start + limit < sorted.length,
      data: page.map((o) => itemPaths.reduce<unknown>((x, path) => expand(x, path), o)),
    };
  }

  const ofType = (type: string) => [...objects.values()].filter((o) => o.object === type);
  const inRange = (field: string) => (o: StripeObject, query: URLSearchParams) =>
    (!query.has(`${field}[gte]`) || Number(o[field]) >= Number(query.get(`${field}[gte]`))) &&
    (!query.has(`${field}[lt]`) || Number(o[field]) < Number(query.get(`${field}[lt]`)));
  const inCreatedRange = inRange('created');
  const inArrivalRange = inRange('arrival_date');

  function answer(path: string, query: URLSearchParams): [number, unknown] {
    // Namespaced resources (`/v1/checkout/sessions/cs_…`) are held under their id like the rest.
    const parts = path.split('/');
    const [resource, id] =
      parts[2] === 'checkout' ? [`checkout/${parts[3]}`, parts[4]] : [parts[2], parts[3]];
    if (resource === 'balance_transactions' && !id)
      return [
        200,
        list(
          ofType('balance_transaction').filter((o) =>
            query.has('payout') ? payoutOf.get(o.id) === query.get('payout') : inCreatedRange(o, query),
          ),
          query,
          path,
        ),
      ];
    if (resource === 'refunds' && !id)
      return [
        200,
        list(
          ofType('refund').filter((o) =>
            query.has('charge') ? o.charge === query.get('charge') : inCreatedRange(o, query),
          ),
          query,
          path,
        ),
      ];
    if (resource === 'invoice_payments' && !id)
      return [
        200,
        list(
          ofType('invoice_payment').filter((o) => o.invoice === query.get('invoice')),
          query,
          path,
        ),
      ];
    // The account's own lists, as the import walks them (newest first, `created` range, `status`).
    const listed = {
      customers: 'customer',
      subscriptions: 'subscription',
      invoices: 'invoice',
      charges: 'charge',
      disputes: 'dispute',
      payouts: 'payout',
    };
    const type = listed[resource as keyof typeof listed];
    if (type && !id) {
      const status = query.get('status');
      return [
        200,
        list(
          ofType(type).filter(
            (o) =>
              inCreatedRange(o, query) &&
              inArrivalRange(o, query) &&
              (!status || status === 'all' || o.status === status),
          ),
          query,
          path,
        ),
      ];
    }
    const object = id ? objects.get(id) : undefined;
    if (object) return [200, expandOne(object, query)];
    return [
      404,
      {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: `No such object: '${id}'`,
        },
      },
    ];
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({ path: url.pathname, query: url.searchParams });
    req.resume();
    req.on('end', () => {
      // Checkout is the one write our flows need before a payment exists (gift purchases).
      const [status, body] = failing.has(url.pathname)
        ? [500, { error: { type: 'api_error', message: 'An unknown error occurred (fake).' } }]
        : req.method === 'POST' && url.pathname === '/v1/checkout/sessions'
          ? [
              200,
              { id: nextId('cs'), object: 'checkout.session', url: 'https://checkout.stripe.com/c/pay/fake' },
            ]
          : req.method === 'GET'
            ? answer(url.pathname, url.searchParams)
            : [405, { error: { type: 'invalid_request_error', message: 'read-only fake' } }];
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${seq}` });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...world,
    requests,
    /** From now on, every call to `path` (e.g. `/v1/balance_transactions`) fails as Stripe's 500 does. */
    fail(path: string): () => void {
      failing.add(path);
      return () => failing.delete(path);
    },
    /** A fresh, empty account. */
    reset() {
      objects.clear();
      payoutOf.clear();
      requests.length = 0;
      failing.clear();
    },
    connection: {
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      protocol: 'http' as const,
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type FakeStripe = Awaited<ReturnType<typeof startFakeStripe>>;
