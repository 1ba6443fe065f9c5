import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { type LedgerEntry, ledgerModel, STRIPE_PAYMENT_KINDS } from '../ledger/ledger.model.js';
import { stripeFailure } from './reconciliation.report.js';

// Tax collected per month, currency, jurisdiction and rate, refunds of tax netted. Our ledger says
// which payments and refunds are ours and when; Stripe's invoice (`total_taxes`) or Checkout
// Session (`total_details.breakdown.taxes`) says the tax in each payment, read when the report is
// pulled (the ledger keeps amounts, not their tax part). A refund takes back tax in proportion to
// the amount refunded, as Stripe Tax books it. Columns and sources: docs/operations/finance.md.

export interface TaxLine {
  month: string;
  /** The currency the supporter paid in. */
  currency: string;
  /** ISO country code of the tax, `unknown` when Stripe gave no rate. */
  country: string;
  state: string;
  jurisdiction: string;
  /** `vat`, `sales_tax`, `gst`, …: Stripe's tax type. */
  taxType: string;
  /** The percentage applied (Stripe's effective rate when it gives one). */
  rate: number | null;
  /** Payments (invoices, Checkout Sessions) with this tax in the month. */
  payments: number;
  /** What the tax was computed on, less its refunded share. */
  taxable: number;
  collected: number;
  /** Tax given back by refunds (negative); a failed refund puts its share back. */
  refunded: number;
  net: number;
}

export interface TaxReport {
  lines: TaxLine[];
  /** A Stripe lookup that failed: that payment's tax is not in the lines; the rest stands. */
  unchecked: { what: 'invoice' | 'checkout_session' | 'tax_rate'; reference: string; error: string }[];
}

/** One tax in one payment, with where it applies. */
interface TaxPart {
  amount: number;
  taxable: number;
  rate: RateKey;
}
interface RateKey {
  country: string;
  state: string;
  jurisdiction: string;
  taxType: string;
  rate: number | null;
}
const UNKNOWN_RATE: RateKey = {
  country: 'unknown',
  state: '',
  jurisdiction: 'unknown',
  taxType: 'unknown',
  rate: null,
};

const PAYMENT_KINDS = new Set<string>([...STRIPE_PAYMENT_KINDS, 'out_of_band_payment']);
const REFUND_KINDS = new Set(['refund', 'refund_failure']);
/** Concurrent Stripe lookups: fast enough for a month of payments, far below Stripe's rate limit. */
const PARALLEL = 8;

export async function taxReport(
  deps: { db: Connection; stripe: Stripe },
  period: { from: Date; to: Date },
): Promise<TaxReport> {
  const report: TaxReport = { lines: [], unchecked: [] };
  const Ledger = ledgerModel(deps.db);
  const entries = (
    await Ledger.find({ occurredAt: { $gte: period.from, $lt: period.to } }).lean<LedgerEntry[]>()
  ).filter((e) => PAYMENT_KINDS.has(e.kind) || REFUND_KINDS.has(e.kind));

  // Refunds in the period may take back payments made before it.
  const payments = new Map<string, LedgerEntry>();
  for (const e of entries) if (PAYMENT_KINDS.has(e.kind)) payments.set(e._id, e);
  const earlier = [
    ...new Set(
      entries
        .filter((e) => REFUND_KINDS.has(e.kind) && e.reverses && !payments.has(e.reverses))
        .map((e) => e.reverses!),
    ),
  ];
  if (earlier.length > 0)
    for (const e of await Ledger.find({ _id: { $in: earlier } }).lean<LedgerEntry[]>())
      payments.set(e._id, e);

  const lookups = new TaxLookups(deps.stripe, report);
  const partsOf = new Map<string, TaxPart[] | undefined>();
  // An invoice paid partly outside Stripe is two entries: its tax is counted once, on the first.
  const taxedInvoices = new Set<string>();
  const ordered = [...payments.values()].sort(
    (a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a._id.localeCompare(b._id),
  );
  const owners = new Map<string, LedgerEntry>();
  for (const payment of ordered) {
    if (payment.invoiceId) {
      if (taxedInvoices.has(payment.invoiceId)) {
        partsOf.set(payment._id, []);
        continue;
      }
      taxedInvoices.add(payment.invoiceId);
    }
    owners.set(payment._id, payment);
  }
  await inParallel([...owners.values()], async (payment) => {
    partsOf.set(payment._id, await lookups.partsOf(payment));
  });

  const lines = new Map<string, TaxLine>();
  const lineFor = (entry: LedgerEntry, currency: string, rate: RateKey) => {
    const key = [
      entry.month,
      currency,
      rate.country,
      rate.state,
      rate.jurisdiction,
      rate.taxType,
      rate.rate,
    ].join('|');
    const line = lines.get(key) ?? {
      month: entry.month,
      currency,
      ...rate,
      payments: 0,
      taxable: 0,
      collected: 0,
      refunded: 0,
      net: 0,
    };
    lines.set(key, line);
    return line;
  };
  for (const entry of entries) {
    if (PAYMENT_KINDS.has(entry.kind)) {
      for (const part of partsOf.get(entry._id) ?? []) {
        const line = lineFor(entry, entry.currency, part.rate);
        line.payments++;
        line.taxable += part.taxable;
        line.collected += part.amount;
        line.net += part.amount;
      }
      continue;
    }
    // A refund (negative) or a failed refund's return (positive): its share of the payment's tax.
    const payment = entry.reverses ? payments.get(entry.reverses) : undefined;
    const parts = payment ? partsOf.get(payment._id) : undefined;
    if (!payment || !parts || payment.amount === 0) continue;
    for (const part of parts) {
      const line = lineFor(entry, payment.currency, part.rate);
      const share = Math.round((part.amount * entry.amount) / payment.amount);
      line.taxable += Math.round((part.taxable * entry.amount) / payment.amount);
      line.refunded += share;
      line.net += share;
    }
  }
  report.lines = [...lines.values()].sort(
    (a, b) =>
      a.month.localeCompare(b.month) ||
      a.currency.localeCompare(b.currency) ||
      a.country.localeCompare(b.country) ||
      a.state.localeCompare(b.state) ||
      a.jurisdiction.localeCompare(b.jurisdiction) ||
      (a.rate ?? -1) - (b.rate ?? -1),
  );
  return report;
}

/** Stripe's tax figures for our payments; tax rates read once each. */
class TaxLookups {
  private rates = new Map<string, Promise<RateKey>>();
  constructor(
    private stripe: Stripe,
    private report: TaxReport,
  ) {}

  /** The tax in one payment; undefined when Stripe could not be asked (listed as unchecked). */
  async partsOf(payment: LedgerEntry): Promise<TaxPart[] | undefined> {
    if (payment.invoiceId) {
      const invoice = await this.stripe.invoices
        .retrieve(payment.invoiceId)
        .catch(this.failed('invoice', payment.invoiceId));
      if (!invoice) return undefined;
      const parts: TaxPart[] = [];
      for (const tax of invoice.total_taxes ?? []) {
        if (tax.amount === 0 && !tax.taxable_amount) continue;
        const rateId = tax.tax_rate_details?.tax_rate;
        parts.push({
          amount: tax.amount,
          taxable: tax.taxable_amount ?? 0,
          rate: rateId ? await this.rate(rateId) : UNKNOWN_RATE,
        });
      }
      return parts;
    }
    if (payment.checkoutSessionId) {
      const session = await this.stripe.checkout.sessions
        .retrieve(payment.checkoutSessionId, { expand: ['total_details.breakdown'] })
        .catch(this.failed('checkout_session', payment.checkoutSessionId));
      if (!session) return undefined;
      const taxes = session.total_details?.breakdown?.taxes;
      if (taxes)
        return taxes.map((tax) => ({
          amount: tax.amount,
          taxable: tax.taxable_amount ?? 0,
          rate: rateKey(tax.rate),
        }));
      const amount = session.total_details?.amount_tax ?? 0;
      return amount ? [{ amount, taxable: 0, rate: UNKNOWN_RATE }] : [];
    }
    return []; // recorded without an invoice or session (imported): no tax Stripe could tell
  }

  private rate(id: string): Promise<RateKey> {
    const known = this.rates.get(id);
    if (known) return known;
    const found = this.stripe.taxRates
      .retrieve(id)
      .then(rateKey)
      .catch((error) => {
        this.failed('tax_rate', id)(error);
        return { ...UNKNOWN_RATE, jurisdiction: id };
      });
    this.rates.set(id, found);
    return found;
  }

  private failed(what: TaxReport['unchecked'][number]['what'], reference: string) {
    return (error: unknown) => {
      this.report.unchecked.push({ what, reference, error: stripeFailure(error) });
      return undefined;
    };
  }
}

function rateKey(rate: Stripe.TaxRate): RateKey {
  return {
    country: rate.country ?? 'unknown',
    state: rate.state ?? '',
    jurisdiction: rate.jurisdiction ?? rate.display_name ?? 'unknown',
    taxType: rate.tax_type ?? 'unknown',
    rate: rate.effective_percentage ?? rate.percentage ?? null,
  };
}

async function inParallel<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}

export const TAX_COLUMNS = [
  'month',
  'currency',
  'country',
  'state',
  'jurisdiction',
  'taxType',
  'rate',
  'payments',
  'taxable',
  'collected',
  'refunded',
  'net',
] as const;
