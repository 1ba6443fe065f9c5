import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_KINDS, ledgerModel } from '../../src/ledger/ledger.model.js';
import { recordLedgerEntry } from '../../src/ledger/ledger.service.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { DomainEvents } from '../../src/shared/domain-events.js';
import { reportPullModel } from '../../src/staff/audit.model.js';
import { deep } from '../support/depth.js';
import { staffToken } from '../support/staff.js';
import { databaseUri, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

const TZ = 'Europe/Kyiv';
let app: TestApp;
let finance: Record<string, string>;
let admin: Record<string, string>;
let editor: Record<string, string>;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: TZ }) });
  finance = { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization };
  admin = { authorization: (await staffToken(app.url, app.deps.db, 'admin')).authorization };
  editor = { authorization: (await staffToken(app.url, app.deps.db, 'editor')).authorization };
  const { Member, Subscription } = membershipModels(app.deps.db);
  const members = await Member.insertMany([
    {
      email: 'plain@example.com',
      name: 'Plain, "Quoted"\nName',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-10-31T22:30:00Z'),
      joinedVia: 's1',
      campaign: 'birthday',
    },
    {
      email: 'formula@example.com',
      name: '=HYPERLINK("http://evil")',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-11-05T10:00:00Z'),
      joinedVia: 's2',
    },
    {
      email: 'plus@example.com',
      name: '+380 phone',
      status: 'canceled',
      source: 'checkout',
      joinedAt: new Date('2026-11-06T10:00:00Z'),
      joinedVia: 's3',
    },
    {
      email: 'minus@example.com',
      name: '-minus',
      status: 'active',
      source: 'gift',
      joinedAt: new Date('2026-11-07T10:00:00Z'),
      joinedVia: 'gift:1',
    },
    {
      email: 'at@example.com',
      name: '@mention',
      status: 'past_due',
      source: 'checkout',
      joinedAt: new Date('2026-11-08T10:00:00Z'),
      joinedVia: 's5',
    },
    {
      email: 'tab@example.com',
      name: '\tTabbed',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-12-01T10:00:00Z'),
      joinedVia: 's6',
    },
  ]);
  await Subscription.insertMany(
    members
      .filter((m) => m.source === 'checkout')
      .map((m, i) => ({
        _id: `sub_${i}`,
        memberId: m._id,
        customerId: `cus_${i}`,
        status: 'active',
        plan: i % 2 ? 'patron' : 'supporter',
        interval: i % 2 ? 'year' : 'month',
        amount: i % 2 ? 15000 : 500,
        currency: i % 2 ? 'gbp' : 'eur',
        cancelAtPeriodEnd: false,
        lastEventCreated: 1,
        lastEventId: 'e',
      })),
  );
});
afterAll(() => app.close());

const get = (path: string, headers: Record<string, string> = finance) =>
  fetch(`${app.url}${path}`, { headers });

describe('who may pull reports', () => {
  it('when nobody, an editor, finance or an admin asks, then 401, 403, 200, 200; each pull is in the audit log', async () => {
    expect((await get('/reports/supporters', {})).status).toBe(401);
    expect((await get('/reports/supporters', editor)).status).toBe(403);
    const before = await reportPullModel(app.deps.db).countDocuments();
    expect((await get('/reports/supporters?status=active', finance)).status).toBe(200);
    expect((await get('/reports/revenue?from=2026-11&to=2026-12', admin)).status).toBe(200);
    const pulls = await reportPullModel(app.deps.db).find().sort({ at: 1 }).skip(before).lean();
    expect(pulls).toEqual([
      expect.objectContaining({
        staffEmail: 'finance@newsroom.example',
        role: 'finance',
        report: 'supporters',
        format: 'json',
        filters: { status: 'active' },
        rows: 4,
      }),
      expect.objectContaining({
        staffEmail: 'admin@newsroom.example',
        role: 'admin',
        report: 'revenue',
        filters: { by: 'month', from: '2026-11', to: '2026-12' },
      }),
    ]);
    expect((await get('/reports/audit', finance)).status).toBe(403);
    const listed = (await (await get('/reports/audit', admin)).json()) as { pulls: { report: string }[] };
    expect(listed.pulls.map((p) => p.report).slice(0, 2)).toEqual(['revenue', 'supporters']);
  });
});

describe('every report is guarded', () => {
  const reports = [
    '/reports/supporters?format=csv',
    '/reports/revenue?from=2026-11&to=2026-12',
    '/reports/summary?from=2026-11-01&to=2026-11-30',
    '/reports/growth?from=2026-11-01&to=2026-11-30',
    '/reports/gifts',
    '/reports/campaigns',
    '/reports/campaigns/birthday',
    '/reports/reconciliation?from=2026-11-01&to=2026-11-30',
    '/reports/audit',
  ];
  it('when nobody or an editor asks for any report, then 401 or 403 with the error format, and nothing is pulled', async () => {
    const before = await reportPullModel(app.deps.db).countDocuments();
    for (const path of reports) {
      const anonymous = await get(path, {});
      expect([path, anonymous.status]).toEqual([path, 401]);
      expect((await anonymous.json()).error.code).toBe('unauthorized');
      const refused = await get(path, editor);
      expect([path, refused.status]).toEqual([path, 403]);
      expect((await refused.json()).error.code).toBe('forbidden');
    }
    expect(await reportPullModel(app.deps.db).countDocuments()).toBe(before);
  });
});

describe('supporters CSV', () => {
  it('when exported, then cells are escaped, formulas are neutralised, and dates are in the newsroom time zone', async () => {
    const res = await get('/reports/supporters?format=csv');
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain('supporters.csv');
    const csv = await res.text();
    const lines = csv.split('\n');
    expect(lines[0]).toBe(
      'email,name,status,source,plan,interval,amount,currency,joined_at,current_period_end,campaign,stripe_customer_id',
    );
    expect(csv).toContain(
      'plain@example.com,"Plain, ""Quoted""\nName",active,checkout,supporter,month,500,eur,2026-11-01 00:30,,birthday,',
    );
    expect(csv).toContain(`formula@example.com,"'=HYPERLINK(""http://evil"")"`);
    expect(csv).toContain("plus@example.com,'+380 phone,");
    expect(csv).toContain("minus@example.com,'-minus,");
    expect(csv).toContain("at@example.com,'@mention,");
    expect(csv).toContain(`tab@example.com,"'\tTabbed",`); // quoted too: a tab splits cells in some spreadsheets
    expect(csv.charCodeAt(0)).not.toBe(0xfeff);
  });

  it('when Excel is asked for, then the file starts with the UTF-8 BOM', async () => {
    const bytes = new Uint8Array(await (await get('/reports/supporters?format=csv&bom=true')).arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });

  it('when filtered (JSON and CSV take the same filters), then only the matching supporters come out', async () => {
    const emails = async (query: string) =>
      (
        (await (await get(`/reports/supporters?limit=1000&${query}`)).json()) as {
          items: { email: string }[];
        }
      ).items.map((i) => i.email);
    expect(await emails('status=active&source=checkout')).toEqual([
      'plain@example.com',
      'formula@example.com',
      'tab@example.com',
    ]);
    expect(await emails('source=gift')).toEqual(['minus@example.com']);
    // 2026-10-31 22:30 UTC is already 1 November in Kyiv.
    expect(await emails('joinedFrom=2026-11-01&joinedTo=2026-11-06')).toEqual([
      'plain@example.com',
      'formula@example.com',
      'plus@example.com',
    ]);
    expect(await emails('plan=patron&currency=gbp')).toEqual(['formula@example.com', 'at@example.com']);
    expect(await emails('campaign=birthday')).toEqual(['plain@example.com']);
  });
});

describe('supporters JSON', () => {
  it('when paged with the cursor, then every supporter appears exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (
        await get(`/reports/supporters?limit=2${cursor ? `&after=${cursor}` : ''}`)
      ).json()) as {
        items: { email: string }[];
        nextCursor: string | null;
      };
      seen.push(...page.items.map((i) => i.email));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });
});

describe('revenue', () => {
  const entry = fc.record({
    kind: fc.constantFrom(...LEDGER_KINDS),
    amount: fc.integer({ min: 1, max: 1_000_000 }),
    currency: fc.constantFrom('usd', 'eur', 'gbp'),
    // Around month ends, where the time zone decides the month.
    at: fc.integer({ min: Date.parse('2026-10-31T18:00:00Z'), max: Date.parse('2027-01-01T06:00:00Z') }),
  });

  it('when any sequence of payments, refunds and disputes is recorded, then every total matches an independent sum, to the cent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 25 }), async (entries) => {
        await ledgerModel(app.deps.db).deleteMany({});
        const deps = { db: app.deps.db, clock: app.deps.clock, timeZone: TZ, events: new DomainEvents() };
        for (const [i, e] of entries.entries()) {
          const negative = e.kind === 'refund' || e.kind === 'dispute';
          await recordLedgerEntry(deps, {
            _id: `e${i}`,
            kind: e.kind,
            amount: e.kind === 'free_invoice' ? 0 : negative ? -e.amount : e.amount, // a $0 invoice is 0
            currency: e.currency,
            occurredAt: new Date(e.at),
          });
        }
        // Independently: the month from the zone's local time string, sums per (month, currency).
        const expected = new Map<
          string,
          { gross: number; refunds: number; disputes: number; net: number; outOfBand: number }
        >();
        for (const e of entries) {
          if (e.kind === 'free_invoice') continue; // no money either way
          const local = new Date(e.at).toLocaleString('sv-SE', { timeZone: TZ }); // "2026-11-01 00:30:00"
          const key = `${local.slice(0, 7)}|${e.currency}`;
          const row = expected.get(key) ?? { gross: 0, refunds: 0, disputes: 0, net: 0, outOfBand: 0 };
          expected.set(key, row);
          const signed = e.kind === 'refund' || e.kind === 'dispute' ? -e.amount : e.amount;
          // Paid outside Stripe: received, shown apart, not Stripe's gross or net.
          if (e.kind === 'out_of_band_payment') {
            row.outOfBand += e.amount;
            continue;
          }
          // A failed refund's money came back: refunds are net of it.
          if (e.kind === 'refund' || e.kind === 'refund_failure') row.refunds += signed;
          else if (e.kind === 'dispute' || e.kind === 'dispute_reversal') row.disputes += signed;
          else row.gross += signed;
          row.net += signed;
          expected.set(key, row);
        }
        const res = await get('/reports/revenue?by=month&from=2026-10&to=2027-01');
        const { rows } = (await res.json()) as {
          rows: {
            period: string;
            currency: string;
            gross: number;
            refunds: number;
            disputes: number;
            net: number;
            outOfBand: number;
          }[];
        };
        expect(
          Object.fromEntries(
            rows.map((r) => [
              `${r.period}|${r.currency}`,
              {
                gross: r.gross,
                refunds: r.refunds,
                disputes: r.disputes,
                net: r.net,
                outOfBand: r.outOfBand,
              },
            ]),
          ),
        ).toEqual(Object.fromEntries(expected));
      }),
      { numRuns: deep(12) },
    );
  });
});

describe('revenue periods', () => {
  it('when days are asked for with month bounds, then the last month counts all its days; a reversed range is refused', async () => {
    await ledgerModel(app.deps.db).deleteMany({});
    const deps = { db: app.deps.db, clock: app.deps.clock, timeZone: TZ, events: new DomainEvents() };
    for (const [id, at] of [
      ['nov', '2026-11-30T21:59:00Z'], // 23:59 on 30 November in Kyiv
      ['dec', '2026-12-31T21:00:00Z'], // 23:00 on 31 December in Kyiv
      ['jan', '2026-12-31T22:00:00Z'], // midnight: 1 January in Kyiv
    ] as const)
      await recordLedgerEntry(deps, {
        _id: id,
        kind: 'one_time_payment',
        amount: 100,
        currency: 'eur',
        occurredAt: new Date(at),
      });
    const res = await get('/reports/revenue?by=day&from=2026-11&to=2026-12');
    expect(res.status).toBe(200);
    expect((await res.json()).rows.map((r: { period: string }) => r.period)).toEqual([
      '2026-11-30',
      '2026-12-31',
    ]);

    const reversed = await get('/reports/revenue?from=2026-12&to=2026-11');
    expect(reversed.status).toBe(422);
    expect((await reversed.json()).error.details).toEqual([
      { path: 'to', message: 'from must not be after to' },
    ]);
  });
});

describe('report dates out of this service’s years', () => {
  for (const path of [
    '/reports/summary?from=9999-12-31&to=9999-12-31',
    '/reports/growth?from=9999-12-30&to=9999-12-31',
    '/reports/summary?from=0000-01-01&to=0000-01-02',
    '/reports/revenue?from=0000-01&to=0000-02',
    '/reports/revenue?from=2026-13&to=2026-13',
    '/reports/revenue?by=day&from=2026-02-30&to=2026-03-01',
  ]) {
    it(`when ${path} is asked for, then 422 names the date instead of 500 or another year`, async () => {
      const res = await get(path);
      expect(res.status).toBe(422);
      expect((await res.json()).error.code).toBe('validation_failed');
    });
  }
});

describe('report CLI', () => {
  it('when `npm run report` exports supporters to a file, then the file holds the filtered rows and the pull is audited', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { spawnScript } = await import('../support/server-process.js');
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'report-')), 'active.csv');
    const uri = databaseUri(app.deps.db.name);
    const cli = spawnScript('src/cli/report.ts', { MONGODB_URI: uri, TIME_ZONE: TZ }, [
      'supporters',
      '--out',
      out,
      '--status',
      'active',
      '--source',
      'gift',
    ]);
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('supporters 1/1 (100%)');
    expect(cli.output()).toContain(`exported 1 rows to ${out}`);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^minus@example\.com,'-minus,active,gift,gift,/);
    expect(await reportPullModel(app.deps.db).findOne({ role: 'cli' }).lean()).toMatchObject({
      report: 'supporters',
      rows: 1,
      filters: { status: 'active', source: 'gift' },
    });

    const refused = spawnScript('src/cli/report.ts', { MONGODB_URI: uri }, [
      'revenue',
      '--out',
      out,
      '--from',
      'last-month',
      '--to',
      '2026-12',
    ]);
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toContain('--from: YYYY-MM or YYYY-MM-DD');
  });
});
