import { type Request, Router } from 'express';
import type { Connection } from 'mongoose';
import { AppError } from '../http/errors.js';
import type { Clock } from '../infra/clock.js';
import { translate } from '../shared/messages.js';
import { reportPullModel } from '../staff/audit.model.js';
import { consoleFormats } from './console-locale.js';
import { consoleErrors, localeOf, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';
import { memberRecord, searchMembers } from './member-record.js';

// Member lookup in the console (admin, finance): search by email or name, and a member's page.
// Every search and every page view is written to the audit log (who, when, what, how many rows),
// as report pulls are.

export interface MemberConsoleDeps {
  db: Connection;
  clock: Clock;
  /** https://dashboard.stripe.com or …/test, by the kind of key configured. */
  stripeDashboard: string;
  /** The newsroom's zone: every moment on these pages is on its clocks. */
  timeZone: string;
}

export function memberConsoleRoutes(deps: MemberConsoleDeps): Router {
  const router = Router();
  const staffOnly = consoleRole(...rolesFor('members'));
  const section = 'members';
  const audit = (req: Request, report: string, filters: Record<string, unknown>, rows: number) =>
    reportPullModel(deps.db).create({
      staffId: req.staff!.id,
      staffEmail: req.staff!.email,
      role: req.staff!.role,
      report,
      format: 'page',
      filters,
      rows,
      at: deps.clock.now(),
    });

  router.get('/console/members', consoleErrors(section), staffOnly, async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 254) : '';
    const search = q ? await searchMembers(deps.db, q) : undefined;
    const { moment: when } = consoleFormats(localeOf(res), deps.timeZone);
    if (search) await audit(req, 'member-search', { by: search.by, query: q }, search.members.length);
    sendConsolePage(res, 'members', {
      title: 'console.nav.members',
      section,
      q,
      search,
      tooShort: search?.by === 'none',
      results: search?.members.map((m) => ({
        id: String(m._id),
        email: m.email,
        name: m.name,
        status: m.status,
        joined: when(m.joinedAt),
      })),
    });
  });

  router.get('/console/members/:id', consoleErrors(section), staffOnly, async (req, res) => {
    const record = await memberRecord(deps.db, String(req.params.id), deps.clock.now());
    if (!record) throw new AppError('not_found', 'There is no member with this id.');
    const { member } = record;
    await audit(req, 'member', { memberId: String(member._id) }, record.ledger.length);
    const stripe = deps.stripeDashboard;
    const locale = localeOf(res);
    const { money, moment: when } = consoleFormats(locale, deps.timeZone);
    sendConsolePage(res, 'member', {
      title: member.name ? `${member.name} (${member.email})` : member.email,
      section,
      member: {
        ...member,
        joined: when(member.joinedAt),
        periodEnd: when(member.currentPeriodEnd),
        customerUrl: member.stripeCustomerId && `${stripe}/customers/${member.stripeCustomerId}`,
      },
      subscriptions: record.subscriptions.map((s) => ({
        ...s,
        price: money(s.amount, s.currency),
        intervalText: translate(
          locale,
          s.interval === 'year' ? 'console.member.interval.year' : 'console.member.interval.month',
        ),
        periodEnd: when(s.currentPeriodEnd),
        url: `${stripe}/subscriptions/${s._id}`,
      })),
      ledger: record.ledger.map((e) => ({
        ...e,
        at: when(e.occurredAt),
        amountText: money(e.amount, e.currency),
        url: e.paymentIntentId
          ? `${stripe}/payments/${e.paymentIntentId}`
          : e.invoiceId
            ? `${stripe}/invoices/${e.invoiceId}`
            : undefined,
      })),
      gifts: record.gifts.map((g) => ({
        id: String(g._id),
        role: translate(
          locale,
          g.purchaser.email === member.email ? 'console.member.gave' : 'console.member.received',
        ),
        other: g.purchaser.email === member.email ? g.recipient.name : g.purchaser.name,
        months: g.durationMonths,
        status: g.status,
        price: money(g.amount, g.currency),
        deliverAt: when(g.deliverAt),
      })),
      emails: record.emails.map((e) => ({
        template: e.template,
        status: e.status,
        created: when(e.createdAt),
        sent: when(e.sentAt),
        events: e.events.map((ev) => `${ev.event} ${when(ev.occurredAt)}`).join(', '),
      })),
      consent: record.consent.map((c) => ({ ...c, at: when(c.at) })),
      newsletters: record.newsletters,
    });
  });

  return router;
}
