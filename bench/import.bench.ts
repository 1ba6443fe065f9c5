import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importMembersFile } from '../src/imports/import.service.js';
import { importSubscribersFile } from '../src/imports/subscribers.import.js';
import { systemClock } from '../src/infra/clock.js';
import { DEFAULT_PLANS } from '../src/memberships/plans.js';
import { DEFAULT_LISTS } from '../src/newsletters/lists.js';
import { benchDatabase, saveResult, timed } from './support.js';

// `npm run bench -- import`: the newsroom's existing supporters brought in on the embedded
// database: 12,000 members from a CSV in the plain format, and 30,000 Mailchimp subscribers
// (27,000 subscribed, 2,000 unsubscribed, 1,000 cleaned), then each file again (a rerun, which
// must change nothing and should cost less than the first run).

const MEMBERS = Number(process.env.BENCH_IMPORT_MEMBERS ?? 12_000);
const SUBSCRIBERS = Number(process.env.BENCH_IMPORT_SUBSCRIBERS ?? 30_000);

export type MailchimpFileKind = 'subscribed' | 'unsubscribed' | 'cleaned';

/**
 * One of Mailchimp's three audience export files (the columns it exports, src/imports/formats.ts)
 * with `count` readers from reader<from>@example.net on; written in chunks, so a million rows
 * never sit in memory as one string.
 */
export function writeMailchimpFile(target: string, from: number, count: number, kind: MailchimpFileKind) {
  const [tail, extra] = {
    subscribed: ['', ''],
    unsubscribed: [',UNSUB_TIME,UNSUB_REASON', ',"2024-02-02 10:00:00",Other'],
    cleaned: [',CLEAN_TIME', ',"2023-03-03 10:00:00"'],
  }[kind];
  const header =
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LAST_CHANGED,LEID,EUID,NOTES';
  const row = (i: number) =>
    `reader${i}@example.net,Reader,${i},3,"2020-03-04 05:06:07",198.51.100.${i % 250},"2020-03-04 05:08:09",198.51.100.${i % 250},"2021-01-01 00:00:00",${i},e${i},${extra}`;
  const fd = openSync(target, 'w');
  try {
    writeSync(fd, `${header}${tail}`);
    for (let start = 0; start < count; start += 10_000) {
      const end = Math.min(count, start + 10_000);
      writeSync(fd, Array.from({ length: end - start }, (_, k) => `\r\n${row(from + start + k)}`).join(''));
    }
  } finally {
    closeSync(fd);
  }
  return target;
}

function writeFiles(dir: string) {
  const plans = ['supporter,,eur,month', 'patron,,eur,year', 'custom,7.50,usd,month', 'supporter,,gbp,year'];
  const members = path.join(dir, 'members.csv');
  writeFileSync(
    members,
    [
      'email,name,plan,amount,currency,interval,joined_at,stripe_customer_id,status,labels',
      ...Array.from({ length: MEMBERS }, (_, i) => {
        const day = new Date(Date.UTC(2018, 0, 1) + i * 3_600_000).toISOString();
        return `member${i}@example.com,Member ${i},${plans[i % 4]},${day},cus_bench${i},${i % 10 === 0 ? 'canceled' : 'active'},"print, ${2018 + (i % 8)}"`;
      }),
    ].join('\n'),
  );
  const file = (name: string, from: number, count: number, kind: MailchimpFileKind) =>
    writeMailchimpFile(path.join(dir, name), from, count, kind);
  const unsubscribed = Math.round(SUBSCRIBERS / 15);
  const cleaned = Math.round(SUBSCRIBERS / 30);
  const subscribed = SUBSCRIBERS - unsubscribed - cleaned;
  return {
    members,
    mailchimp: [
      file('subscribed.csv', 0, subscribed, 'subscribed'),
      file('unsubscribed.csv', subscribed, unsubscribed, 'unsubscribed'),
      file('cleaned.csv', subscribed + unsubscribed, cleaned, 'cleaned'),
    ],
  };
}

export async function importBenchmark() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-import-files-'));
  const files = writeFiles(dir);
  const database = await benchDatabase('import');
  const deps = { db: database.db, clock: systemClock, plans: DEFAULT_PLANS, lists: DEFAULT_LISTS };
  const importSubscribers = async () => {
    let rows = 0;
    let created = 0;
    for (const file of files.mailchimp) {
      const summary = await importSubscribersFile(deps, file, 'editors-picks');
      rows += summary.rows;
      created += summary.created;
    }
    return { rows, created };
  };
  try {
    const members = await timed(() => importMembersFile(deps, files.members));
    const membersAgain = await timed(() => importMembersFile(deps, files.members));
    const subscribers = await timed(importSubscribers);
    const subscribersAgain = await timed(importSubscribers);
    if (members.result.created !== MEMBERS || membersAgain.result.created !== 0)
      throw new Error(`members: ${members.result.created} then ${membersAgain.result.created} created`);
    if (subscribers.result.created !== SUBSCRIBERS || subscribersAgain.result.created !== 0)
      throw new Error(
        `subscribers: ${subscribers.result.created} then ${subscribersAgain.result.created} created`,
      );
    const line = (what: string, rows: number, ms: number) => ({
      what,
      rows,
      seconds: Number((ms / 1000).toFixed(1)),
      rowsPerSecond: Math.round((rows * 1000) / ms),
    });
    const result = {
      database: database.server,
      runs: [
        line('members CSV (plain format)', MEMBERS, members.ms),
        line('members CSV again (nothing to change)', MEMBERS, membersAgain.ms),
        line('Mailchimp subscribed+unsubscribed+cleaned', SUBSCRIBERS, subscribers.ms),
        line('Mailchimp files again (nothing to change)', SUBSCRIBERS, subscribersAgain.ms),
      ],
    };
    saveResult('import', result);
    return result.runs;
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
