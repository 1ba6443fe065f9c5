#!/usr/bin/env node
// The auditor's check of a membership drive: every addition leaf of the public log is a real
// payment in the newsroom's Stripe account that was not taken back (or, if it was, the log revoked
// it). The verifier (verify-drive.mjs) proves the log is consistent; this proves what it counts.
//
//   node bin/audit-drive.mjs https://members.example.org birthday --stripe-key rk_live_… --salts FILE
//   npm run audit-drive -- … (in a clone)
//
// Needs what the newsroom hands over privately: the salts file (`npm run drive:salts`) and a
// restricted Stripe key with read access to charges, payment intents, refunds and disputes. Node
// built-ins only. For each addition leaf it recomputes the commitment from the record id and salt
// and compares it with the public leaf, then reads the payment from Stripe.
//
// Options: --stripe-api URL   Stripe's address (default https://api.stripe.com; tests use a fake)
//          --at ISO-TIME      judge the log's freshness as of this time
// Exit 0: every addition is a real, unrefunded payment (or revoked in the log); 1: findings, each
// printed (MISMATCH, UNEXPLAINED, NO PAYMENT, MISSING, NOT PAID, REFUNDED, DISPUTED, DUPLICATE,
// WRONG GIFT) or the log does not verify; 2: bad arguments, unreadable salts file, service or
// Stripe unreachable.

import { readFile } from 'node:fs/promises';
import { commitmentOf, verifyDrive } from './drive-verify-core.mjs';

const USAGE =
  'usage: audit-drive <service URL> <campaign slug> --stripe-key rk_… --salts FILE [--stripe-api URL] [--at ISO time]';
const SALTS_FORMAT = 'membership-drive salts v1';

const positional = [];
const options = {};
let usageError = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const name = args[i];
  if (['--stripe-key', '--salts', '--stripe-api', '--at'].includes(name)) {
    if (i + 1 >= args.length) usageError = true;
    options[name.slice(2)] = String(args[++i]);
  } else if (name.startsWith('--')) usageError = true;
  else positional.push(name);
}
const [base, slug] = positional;
const now = options.at ? new Date(options.at) : new Date();
if (
  usageError ||
  !base ||
  !slug ||
  !/^https?:\/\//.test(base) ||
  !options['stripe-key'] ||
  !options.salts ||
  Number.isNaN(now.getTime())
) {
  console.error(USAGE);
  process.exit(2);
}
if (!options['stripe-key'].startsWith('rk_'))
  console.error('note: use a restricted key (rk_…) with read access only; this one can do more');
const stripeApi = options['stripe-api'] ?? 'https://api.stripe.com';

class Unreachable extends Error {}

async function fetchJson(path) {
  const response = await fetch(new URL(path, base), { headers: { accept: 'application/json' } });
  if (!response.ok) return { status: response.status };
  return response.json();
}

/** A Stripe object, or null when Stripe says there is no such object. */
async function stripe(path) {
  let response;
  try {
    response = await fetch(new URL(path, stripeApi), {
      headers: { authorization: `Bearer ${options['stripe-key']}`, accept: 'application/json' },
    });
  } catch (error) {
    throw new Unreachable(`Stripe could not be reached (${error.message})`);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new Unreachable(`Stripe answered ${response.status} to ${path.split('?')[0]}`);
  return response.json();
}

/** Every item of a Stripe list, following `has_more`. */
async function stripeList(path) {
  const items = [];
  let after;
  for (;;) {
    const page = await stripe(`${path}&limit=100${after ? `&starting_after=${after}` : ''}`);
    items.push(...(page?.data ?? []));
    if (!page?.has_more || items.length === 0) return items;
    after = items.at(-1).id;
  }
}

/** What Stripe says of a payment: the charge behind it, and how much of it went back. */
async function paymentFacts(payment) {
  let intent = null;
  let chargeId = payment;
  if (payment.startsWith('pi_')) {
    intent = await stripe(`/v1/payment_intents/${encodeURIComponent(payment)}`);
    if (!intent) return { missing: true };
    chargeId = typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge?.id;
    if (!chargeId) return { intent, charge: null };
  }
  const charge = await stripe(`/v1/charges/${encodeURIComponent(chargeId)}`);
  if (!charge) return { missing: true };
  const refunds = await stripeList(`/v1/refunds?charge=${encodeURIComponent(charge.id)}`);
  const refunded = refunds
    .filter((r) => r.charge === charge.id && ['succeeded', 'pending'].includes(r.status))
    .reduce((sum, r) => sum + r.amount, 0);
  // Stripe filters disputes by charge; the filter is applied again here, as any list is re-read.
  const disputes = await stripeList(`/v1/disputes?charge=${encodeURIComponent(charge.id)}`);
  const lost = disputes.some((d) => d.charge === charge.id && d.status === 'lost');
  return { intent, charge, refunded, lost };
}

async function readSalts() {
  const data = JSON.parse(await readFile(options.salts, 'utf8'));
  if (data?.format !== SALTS_FORMAT || !Array.isArray(data.entries))
    throw new Error(`${options.salts} is not a salts file (${SALTS_FORMAT})`);
  return data;
}

try {
  let salts;
  try {
    salts = await readSalts();
  } catch (error) {
    throw new Unreachable(`the salts file cannot be read: ${error.message}`);
  }
  const result = await verifyDrive({ fetchJson, slug, now, onProgress: (s) => console.error(`… ${s}`) });
  for (const problem of result.problems) console.log(`PROBLEM: ${problem}`);
  if (!result.ok || !result.latest || !result.leaves) {
    console.log('The log does not verify: run verify-drive first. Nothing was audited.');
    process.exit(1);
  }
  const campaign = result.latest.campaign;
  if (salts.campaign !== campaign) {
    console.log(`PROBLEM: the salts file is for campaign ${salts.campaign}, this log is of ${campaign}`);
    process.exit(1);
  }
  const byIndex = new Map(salts.entries.map((e) => [e.index, e]));
  const revoked = new Set(result.leaves.filter((l) => l.kind === 'revoke').map((l) => l.revokes));
  const findings = [];
  const backing = new Map();
  let real = 0;
  let takenBack = 0;
  const additions = result.leaves.filter((l) => l.kind === 'add');
  console.error(`… Reading ${additions.length} payments from Stripe`);
  for (const leaf of additions) {
    const i = leaf.index;
    const entry = byIndex.get(i);
    if (!entry) {
      findings.push(`UNEXPLAINED leaf ${i}: the salts file does not open it`);
      continue;
    }
    if (
      (await commitmentOf(campaign, 'add', String(entry.recordId), String(entry.salt))) !== leaf.commitment
    ) {
      findings.push(
        `MISMATCH leaf ${i}: record ${entry.recordId} and its salt do not give the leaf's commitment`,
      );
      continue;
    }
    if (!entry.payment) {
      findings.push(`NO PAYMENT leaf ${i}: no Stripe payment is named for ${entry.recordId}`);
      continue;
    }
    if (backing.has(entry.payment)) {
      findings.push(
        `DUPLICATE leaf ${i}: payment ${entry.payment} already backs leaf ${backing.get(entry.payment)}`,
      );
      continue;
    }
    backing.set(entry.payment, i);
    const facts = await paymentFacts(entry.payment);
    if (facts.missing) {
      findings.push(`MISSING leaf ${i}: Stripe has no payment ${entry.payment}`);
      continue;
    }
    // A gift's record names the gift; its PaymentIntent names it too (our checkout sets it).
    const giftId = /:gift:(.+)$/.exec(entry.recordId)?.[1];
    const named = facts.intent?.metadata?.giftId;
    if (giftId && named !== undefined && named !== giftId) {
      findings.push(`WRONG GIFT leaf ${i}: payment ${entry.payment} is for gift ${named}, not ${giftId}`);
      continue;
    }
    if (facts.charge?.status !== 'succeeded' || !(facts.charge.amount > 0)) {
      findings.push(`NOT PAID leaf ${i}: payment ${entry.payment} has no succeeded charge with money`);
      continue;
    }
    const wentBack = facts.lost ? 'DISPUTED' : facts.refunded >= facts.charge.amount ? 'REFUNDED' : null;
    if (revoked.has(i))
      takenBack++; // no longer counted, whatever Stripe says
    else if (wentBack)
      findings.push(
        `${wentBack} leaf ${i}: payment ${entry.payment} was ${wentBack === 'DISPUTED' ? 'lost to a dispute' : 'refunded in full'}, and the log never revoked it`,
      );
    else real++;
  }
  for (const finding of findings) console.log(finding);
  console.log(`log:           ${result.latest.origin}, ${result.latest.tree_size} entries`);
  console.log(
    `additions:     ${additions.length}: ${real} real and unrefunded, ${takenBack} revoked in the log, ${findings.length} with findings`,
  );
  console.log(findings.length === 0 ? 'audited: every addition is a real payment' : 'NOT audited');
  process.exit(findings.length === 0 ? 0 : 1);
} catch (error) {
  console.error(`could not audit: ${error.message}`);
  process.exit(2);
}
