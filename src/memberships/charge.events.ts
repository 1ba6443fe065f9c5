import type Stripe from 'stripe';
import { isDuplicateKey } from '../infra/db.js';
import { idOf } from '../infra/stripe.js';
import { refundStepModel } from '../ledger/ledger.model.js';
import { findPayment, recordLedgerEntry } from '../ledger/ledger.service.js';
import { type MembershipDeps, NotReadyYet, type Outcome } from './membership.service.js';

/**
 * A refund is negative money. Stripe's charge.refunded carries the running total refunded; the
 * charge's refund steps (RefundStep) extend a chain 0 → a → b … by unique insert, each step one
 * ledger entry, so the entries add up to the largest total seen, whatever the order, however many
 * deliveries race. Every call walks the whole chain and (re)records each step's entry, so a
 * delivery that failed half-way is finished by any later one. A refund whose payment is not
 * recorded yet is kept (the stored event) and answered 5xx: Stripe delivers it again later.
 */
export async function recordRefund(
  deps: MembershipDeps,
  charge: Stripe.Charge,
  occurredAt: Date,
): Promise<Outcome> {
  const legacy = charge as unknown as { invoice?: string };
  const payment = await findPayment(deps.db, [idOf(charge.payment_intent), charge.id, legacy.invoice]);
  if (!payment) throw new NotReadyYet(`refund of ${charge.id}: its payment is not recorded yet`);
  const total = charge.amount_refunded;
  const of = charge.refunded ? total : charge.amount;
  const Steps = refundStepModel(deps.db);
  for (let from = 0; ; ) {
    const step = await Steps.findById(`${charge.id}:${from}`).lean();
    if (!step) {
      if (from >= total) return 'applied';
      await Steps.create({
        _id: `${charge.id}:${from}`,
        chargeId: charge.id,
        from,
        to: total,
        of,
        occurredAt,
      }).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error; // another delivery extended it first: read its step
      });
      continue;
    }
    await recordLedgerEntry(deps, {
      _id: `refund:${charge.id}:${step.to}`,
      kind: 'refund',
      amount: step.from - step.to,
      currency: charge.currency,
      occurredAt: step.occurredAt,
      email: payment.email,
      memberId: payment.memberId,
      stripeCustomerId: idOf(charge.customer),
      chargeId: charge.id,
      paymentIntentId: idOf(charge.payment_intent),
      reverses: payment._id,
      campaign: payment.campaign,
      ...(step.to >= step.of ? { fullRefund: true } : {}),
    });
    from = step.to;
  }
}
