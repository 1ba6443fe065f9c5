import type Stripe from 'stripe';
import { enqueueEmail } from '../email/outbox.service.js';
import { isDuplicateKey } from '../infra/db.js';
import { idOf } from '../infra/stripe.js';
import {
  type LedgerEntry,
  type RefundFailure,
  type RefundStep,
  refundFailureModel,
  refundStepModel,
} from '../ledger/ledger.model.js';
import { findPayment, recordLedgerEntry } from '../ledger/ledger.service.js';
import { fromUnixSeconds } from '../shared/time.js';
import { staffModels } from '../staff/staff.model.js';
import { METADATA_APP } from './checkout.service.js';
import { findMemberByCustomer } from './member-keys.js';
import { type MembershipDeps, NotReadyYet, type Outcome } from './membership.service.js';

/** The charge a refund belongs to, as the ledger entries of its refund chain name it. */
interface ChargeRef {
  id: string;
  currency: string;
  customer?: string;
  paymentIntent?: string;
}

/** What one `charge.refunded` said: the charge's refunded total, the total that is in full, when. */
interface Observation {
  total: number;
  of: number;
  at: Date;
}

/**
 * A refund is negative money. Stripe's charge.refunded carries the running total refunded
 * (`amount_refunded`, which leaves out failed refunds); the charge's refund steps (RefundStep)
 * extend a chain 0 → a → b … by unique insert, each step one ledger entry. The chain counts every
 * refund ever made, failed ones too: a total plus the refunds that had failed by then (failures
 * are recorded apart, with a positive `refund_failure` entry each). So a refund re-issued after a
 * failure extends the chain, whatever the order the three events come in. Every call walks the
 * whole chain and (re)records each step's entry, so a delivery that failed half-way is finished by
 * any later one. Why, and the orders it survives: docs/adr/0013-failed-refunds.md.
 */
export async function recordRefund(
  deps: MembershipDeps,
  charge: Stripe.Charge,
  occurredAt: Date,
): Promise<Outcome> {
  const legacy = charge as unknown as { invoice?: string };
  const payment = await findPayment(deps.db, [idOf(charge.payment_intent), charge.id, legacy.invoice]);
  if (!payment) {
    if ((await chargeOwnership(deps, charge)) === 'not_ours') return 'ignored';
    throw new NotReadyYet(`refund of ${charge.id}: its payment is not recorded yet`);
  }
  const total = charge.amount_refunded;
  await extendRefundChain(deps, chargeRefOf(charge), payment, {
    total,
    of: charge.refunded ? total : charge.amount,
    at: occurredAt,
  });
  return 'applied';
}

const chargeRefOf = (charge: Stripe.Charge): ChargeRef => ({
  id: charge.id,
  currency: charge.currency,
  customer: idOf(charge.customer),
  paymentIntent: idOf(charge.payment_intent),
});

/** The refunds of the charge that had failed before `at`: what Stripe's total no longer shows. */
const failedBefore = (failures: RefundFailure[], at: Date) =>
  failures.filter((f) => f.failedAt < at).reduce((sum, f) => sum + f.amount, 0);

/**
 * Makes the chain reach what the observation says, counted with the failures known now; reads the
 * failures again after each step it adds, so a failure recorded meanwhile is never missed (it reads
 * the chain after recording itself, so one of the two sees the other).
 */
async function extendRefundChain(
  deps: MembershipDeps,
  charge: ChargeRef,
  payment: LedgerEntry,
  seen: Observation,
): Promise<void> {
  const Steps = refundStepModel(deps.db);
  for (;;) {
    const failed = failedBefore(await refundFailures(deps, charge.id), seen.at);
    const target = seen.total + failed;
    const last = await walkRefundChain(deps, charge, payment);
    const end = last?.to ?? 0;
    if (target <= end) {
      // Newer than anything the chain took in, yet less (or in full again): a refund failed that
      // we have not heard of. Wait for it; Stripe's failure event is on its way. (The same partial
      // total seen again is taken as a repeat: docs/adr/0013-failed-refunds.md.)
      const newer = seen.at > (last?.seen?.at ?? last?.occurredAt ?? seen.at);
      // (Steps made before they kept what they saw, such as imported ones, only by a lower total.)
      const inFullAgain = Boolean(last?.seen) && target === end && seen.total === seen.of && seen.total > 0;
      if (newer && (target < end || inFullAgain))
        throw new NotReadyYet(`refund of ${charge.id}: a refund failure is not recorded yet`);
      return;
    }
    const newest = last?.seen && last.seen.at > seen.at ? last.seen : seen;
    await Steps.create({
      _id: `${charge.id}:${end}`,
      chargeId: charge.id,
      from: end,
      to: target,
      of: seen.of + failed,
      occurredAt: seen.at,
      seen: newest,
    }).catch((error: unknown) => {
      if (!isDuplicateKey(error)) throw error; // another delivery extended it first: read its step
    });
  }
}

/** Records every step's entry (again: a no-op when there) and returns the last step. */
async function walkRefundChain(
  deps: MembershipDeps,
  charge: ChargeRef,
  payment: LedgerEntry,
): Promise<RefundStep | null> {
  const Steps = refundStepModel(deps.db);
  let last: RefundStep | null = null;
  for (let from = 0; ; ) {
    const step = await Steps.findById(`${charge.id}:${from}`).lean<RefundStep>();
    if (!step) return last;
    await recordLedgerEntry(deps, {
      _id: `refund:${charge.id}:${step.to}`,
      kind: 'refund',
      amount: step.from - step.to,
      currency: charge.currency,
      occurredAt: step.occurredAt,
      email: payment.email,
      memberId: payment.memberId,
      stripeCustomerId: charge.customer ?? payment.stripeCustomerId,
      chargeId: charge.id,
      paymentIntentId: charge.paymentIntent,
      reverses: payment._id,
      campaign: payment.campaign,
      ...(step.to >= step.of ? { fullRefund: true } : {}),
    });
    last = step;
    from = step.to;
  }
}

async function refundFailures(deps: MembershipDeps, chargeId: string): Promise<RefundFailure[]> {
  const Failures = refundFailureModel(deps.db);
  const failures: RefundFailure[] = [];
  for (;;) {
    const failure = await Failures.findById(`${chargeId}:failed:${failures.length}`).lean<RefundFailure>();
    if (!failure) return failures;
    failures.push(failure);
  }
}

/** Adds the failure to its charge's chain of failures once; returns them all. */
async function addRefundFailure(
  deps: MembershipDeps,
  failure: Omit<RefundFailure, '_id'>,
): Promise<RefundFailure[]> {
  for (;;) {
    const failures = await refundFailures(deps, failure.chargeId);
    if (failures.some((f) => f.refundId === failure.refundId)) return failures;
    await refundFailureModel(deps.db)
      .create({ ...failure, _id: `${failure.chargeId}:failed:${failures.length}` })
      .catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error; // another failure took the place: read again
      });
  }
}

/**
 * A refund that failed (or was canceled) after it was made: Stripe put the money back in the
 * balance (a `refund_failure` balance transaction), so the ledger gets it back, keyed by the refund.
 * What the refund took back (a count, a gift) stays taken: the reader asked for the money and the
 * newsroom owes it another way, so finance and admins are emailed. A re-issued refund then extends
 * the chain. docs/adr/0013-failed-refunds.md.
 */
export async function recordRefundFailure(
  deps: MembershipDeps,
  refund: Stripe.Refund,
  occurredAt: Date,
): Promise<Outcome> {
  if (refund.status !== 'failed' && refund.status !== 'canceled') return 'ignored';
  const chargeId = idOf(refund.charge);
  if (!chargeId) return 'ignored';
  const paymentIntent = idOf(refund.payment_intent);
  const payment = await findPayment(deps.db, [paymentIntent, chargeId]);
  if (!payment) {
    // A refund's metadata is its own, not the charge's: only its age tells.
    const ownership = await paymentOwnership(deps, { madeAt: fromUnixSeconds(refund.created) });
    if (ownership === 'not_ours') return 'ignored';
    throw new NotReadyYet(`refund ${refund.id} failed: its payment is not recorded yet`);
  }
  const charge: ChargeRef = { id: chargeId, currency: refund.currency, paymentIntent };
  // The refund that failed must be in the chain before the failure counts, or the chain would take
  // the charge.refunded that made it, arriving later, for an old one (and never mark the refund in
  // full): every refund ever made, failed ones too, is at least what has failed.
  const known = await refundFailures(deps, chargeId);
  const failedTotal =
    known.reduce((sum, f) => sum + f.amount, 0) +
    (known.some((f) => f.refundId === refund.id) ? 0 : refund.amount);
  const last = await walkRefundChain(deps, charge, payment);
  if ((last?.to ?? 0) < failedTotal)
    throw new NotReadyYet(`refund ${refund.id} failed: the refund itself is not recorded yet`);
  await addRefundFailure(deps, {
    chargeId,
    refundId: refund.id,
    amount: refund.amount,
    failedAt: occurredAt,
  });
  await recordLedgerEntry(deps, {
    _id: `refund_failure:${refund.id}`,
    kind: 'refund_failure',
    amount: refund.amount,
    currency: refund.currency,
    occurredAt,
    email: payment.email,
    memberId: payment.memberId,
    stripeCustomerId: payment.stripeCustomerId,
    chargeId,
    paymentIntentId: paymentIntent,
    reverses: payment._id,
    campaign: payment.campaign,
  });
  // A charge.refunded taken in before this failure was known counted too little: read the newest
  // again (from the chain as it is now that the failure is recorded).
  const newest = (await walkRefundChain(deps, charge, payment))?.seen;
  if (newest) await extendRefundChain(deps, charge, payment, newest);
  await alertStaff(deps, refund, payment, occurredAt);
  return 'applied';
}

/** Finance and admins hear of it once per refund (the outbox's key): someone must pay the reader back. */
async function alertStaff(deps: MembershipDeps, refund: Stripe.Refund, payment: LedgerEntry, at: Date) {
  const staff = await staffModels(deps.db)
    .StaffUser.find({ role: { $in: ['admin', 'finance'] }, disabled: false })
    .select({ email: 1, name: 1 })
    .lean();
  for (const person of staff) {
    await enqueueEmail(deps.db, deps.clock, {
      template: 'refund-failed',
      to: { email: person.email, name: person.name },
      data: {
        name: person.name,
        refundId: refund.id,
        chargeId: idOf(refund.charge) ?? '',
        amount: refund.amount,
        currency: refund.currency,
        reason: refund.failure_reason ?? refund.status ?? 'unknown',
        supporterEmail: payment.email,
        failedAt: at.toISOString(),
      },
      idempotencyKey: `refund-failed:${refund.id}:${person._id}`,
    });
  }
  deps.logger.warn(
    { refundId: refund.id, chargeId: idOf(refund.charge), amount: refund.amount, currency: refund.currency },
    'a refund failed: the money is back in the Stripe balance and the supporter must be paid another way',
  );
}

/**
 * How long a payment of ours may take to be recorded after its charge: our intake stores every
 * delivery at once, so only a backlog could take longer. Shorter than the queue's three days of
 * retries, so a refund of another app's charge is ignored before it could fail.
 */
const RECORDED_WITHIN_MS = 2 * 86_400_000;

/**
 * Whether a charge we have no payment for is ours (its payment is on its way: wait for it) or
 * another app's on a shared Stripe account (nothing of ours to change: ignore it). By primary key
 * only: our checkouts tag every PaymentIntent (and so its charges) with `metadata.app`; a
 * subscription's charges are untagged but belong to a customer who is our member once any of
 * their events is applied; an adopted account's untagged charges are ours. An untagged charge
 * without a customer is not ours, and one older than RECORDED_WITHIN_MS whose payment is still
 * unknown is not ours either.
 */
export async function chargeOwnership(
  deps: Pick<MembershipDeps, 'db' | 'clock' | 'adoptUntagged'>,
  charge: Pick<Stripe.Charge, 'metadata' | 'customer' | 'created'>,
): Promise<'ours' | 'not_ours'> {
  return paymentOwnership(deps, {
    metadata: charge.metadata,
    customerId: idOf(charge.customer) ?? null,
    madeAt: fromUnixSeconds(charge.created),
  });
}

/**
 * `chargeOwnership` from what an object about a charge carries. A dispute (or a refund) names
 * neither the charge's metadata nor its customer: give its own `created` as `madeAt` (the charge is
 * at least that old) and leave the customer unknown (undefined). For the dispute handlers:
 * `const madeAt = fromUnixSeconds(dispute.created);`
 * `if (!payment && (await paymentOwnership(deps, { madeAt })) === 'not_ours') return 'ignored';`
 */
export async function paymentOwnership(
  deps: Pick<MembershipDeps, 'db' | 'clock' | 'adoptUntagged'>,
  facts: {
    metadata?: Stripe.Metadata | null;
    /** The charge's customer; null when it has none, undefined when the object does not say. */
    customerId?: string | null;
    /** When the charge was made, or any later time the object proves (its own creation). */
    madeAt: Date;
  },
): Promise<'ours' | 'not_ours'> {
  const app = facts.metadata?.app;
  if (app) return app === METADATA_APP ? 'ours' : 'not_ours';
  if (deps.adoptUntagged) return 'ours';
  if (facts.customerId === null) return 'not_ours';
  if (facts.customerId && (await findMemberByCustomer(deps.db, facts.customerId))) return 'ours';
  const age = deps.clock.now().getTime() - facts.madeAt.getTime();
  return Number.isFinite(age) && age > RECORDED_WITHIN_MS ? 'not_ours' : 'ours';
}
