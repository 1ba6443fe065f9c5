import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { backfillMemberEntries } from '../../src/ledger/member-entries.js';
import { backfillMemberSubscriptions, createMemberOnce } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { backfillReaderRecords } from '../../src/retention/reader-data.service.js';
import { reportPullModel } from '../../src/staff/audit.model.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { consolePage } from '../support/console.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
let browser: Browser;
let memberId: string;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  const { member } = await createMemberOnce(app.deps.db, {
    email: 'olena.reader@example.com',
    name: 'Olena Kovalenko',
    locale: 'uk',
    stripeCustomerId: 'cus_lookup1',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date('2026-11-20T10:00:00Z'),
    joinedVia: 'sub_lookup1',
  });
  memberId = String(member._id);
  await membershipModels(app.deps.db).Subscription.create({
    _id: 'sub_lookup1',
    memberId: member._id,
    customerId: 'cus_lookup1',
    status: 'active',
    plan: 'supporter',
    interval: 'month',
    amount: 750,
    currency: 'eur',
    cancelAtPeriodEnd: false,
    lastEventCreated: 1,
    lastEventId: 'evt_1',
  });
  await ledgerModel(app.deps.db).insertMany([
    {
      _id: 'in_lookup1',
      kind: 'subscription_payment',
      amount: 750,
      currency: 'eur',
      occurredAt: new Date('2026-11-20T10:00:00Z'),
      day: '2026-11-20',
      month: '2026-11',
      memberId: member._id,
      invoiceId: 'in_lookup1',
      recordedAt: new Date(),
    },
    {
      _id: 'refund:re_lookup1',
      kind: 'refund',
      amount: -250,
      currency: 'eur',
      occurredAt: new Date('2026-11-21T10:00:00Z'),
      day: '2026-11-21',
      month: '2026-11',
      memberId: member._id,
      recordedAt: new Date(),
    },
  ]);
  await emailModels(app.deps.db).EmailJob.create({
    idempotencyKey: 'welcome:lookup1',
    template: 'member-welcome',
    kind: 'transactional',
    locale: 'uk',
    to: { email: 'olena.reader@example.com' },
    data: {},
    status: 'sent',
    attempts: 1,
    claimSeq: 1,
    nextAttemptAt: new Date(),
    sentAt: new Date('2026-11-20T10:01:00Z'),
  });
  // Written around the services above, so listed as the migrations list records from before the
  // lists were kept: the member page reads them by primary key.
  await backfillMemberSubscriptions(app.deps.db);
  await backfillMemberEntries(app.deps.db);
  await backfillReaderRecords(app.deps.db);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('member lookup in the console, in Chromium', () => {
  it('when finance staff search an email, then they open the member and see their payments, and both look-ups are audited', async () => {
    const page = await consolePage(browser, app.url, app.deps.db, 'finance');
    const errors = watchErrors(page);
    page.setDefaultTimeout(5000);
    expect(await page.locator('header nav a').allTextContents()).toEqual([
      'Drive overview',
      'Members',
      'Where members come from',
      'Finance reports',
    ]);
    await page.click('header nav a:text-is("Members")');
    await page.fill('#q', '  Olena.Reader@example.com ');
    await Promise.all([page.waitForURL(/\/console\/members\?q=/), page.click('button:text-is("Find")')]);
    await page.click('a:has-text("olena.reader@example.com")');
    await page.waitForURL(`${app.url}/console/members/${memberId}`);
    expect(await page.textContent('[data-field=status]')).toBe('active');
    expect(
      await page.locator('#payments tbody tr').evaluateAll((rows) => rows.map((r) => r.textContent)),
    ).toEqual([
      expect.stringMatching(/refund.*-€2\.50/),
      expect.stringMatching(/subscription_payment.*€7\.50.*in_lookup1/),
    ]);
    expect(await page.getAttribute('a:text-is("cus_lookup1")', 'href')).toBe(
      'https://dashboard.stripe.com/test/customers/cus_lookup1',
    );
    expect(await page.textContent('main')).toContain('member-welcome');
    await screenshot(page, 'console-member');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'console-member-dark');
    expect(errors).toEqual([]);

    const pulls = await reportPullModel(app.deps.db)
      .find({ staffEmail: 'finance.console@newsroom.example' })
      .sort({ at: 1 })
      .lean();
    expect(pulls.map((p) => [p.report, p.filters, p.rows])).toEqual([
      ['member-search', { by: 'email', query: 'Olena.Reader@example.com' }, 1],
      ['member', { memberId }, 2],
    ]);
    await page.close();
  });

  it('when finance staff search part of a name, then the matching members are listed', async () => {
    const page = await consolePage(browser, app.url, app.deps.db, 'finance');
    await page.goto(`${app.url}/console/members?q=kovalenko`);
    expect(await page.locator('main table tbody tr').count()).toBe(1);
    await page.goto(`${app.url}/console/members?q=nobody%40example.com`);
    expect(await page.textContent('[role=status]')).toBe('No member found.');
    await page.close();
  });

  it('when an editor signs in, then nothing in the console shows money or members, and the member page is refused', async () => {
    const page = await consolePage(browser, app.url, app.deps.db, 'editor');
    expect(await page.locator('header nav a').allTextContents()).toEqual(['Drive overview', 'Campaigns']);
    expect(await page.textContent('main')).not.toMatch(/€|\$|£/);
    const answer = await page.goto(`${app.url}/console/members/${memberId}`);
    expect(answer?.status()).toBe(403);
    const text = await page.textContent('main');
    expect(text).toContain('It is for: admin, finance');
    expect(text).not.toContain('olena.reader@example.com');
    expect(text).not.toContain('7.50');
    await screenshot(page, 'console-editor-refused');
    expect(await reportPullModel(app.deps.db).countDocuments({ role: 'editor' })).toBe(0);
    await page.close();
  });
});
