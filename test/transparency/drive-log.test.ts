import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemberSession } from '../../src/accounts/member-session.js';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { checkpointsOf, signDueCheckpoints } from '../../src/campaigns/drive-log/checkpoint.service.js';
import {
  commitmentAlias,
  type LogLeaf,
  recordAlias,
  transparencyModels,
} from '../../src/campaigns/drive-log/log.model.js';
import {
  backfillDriveLog,
  logContribution,
  logRevocation,
  logSize,
  receiptOf,
} from '../../src/campaigns/drive-log/log.service.js';
import { PROMISE_FORMAT } from '../../src/campaigns/drive-log/promises.js';
import { loadLog } from '../../src/campaigns/drive-log/tree-cache.js';
import { connectDatabase } from '../../src/infra/db.js';
import { fromRoot } from '../../src/infra/paths.js';
import { registerModels } from '../../src/models.js';
import { deep } from '../support/depth.js';
import { databaseUri, manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import {
  checkpoint,
  depsOf,
  giftPaid,
  giftRefunded,
  memberJoins,
  memberRefunded,
  newCampaign,
} from './support.js';

let app: TestApp;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
});
afterAll(() => app.close());

const leavesOf = (campaignId: unknown) =>
  transparencyModels(app.deps.db)
    .Leaf.find({ campaignId: String(campaignId) })
    .sort({ index: 1 })
    .lean<LogLeaf[]>();

describe('appending to the drive log', () => {
  it('when two processes log the same records many times at once, then each record is one leaf and the log has no gaps', async () => {
    // A second connection is a second process: its own queues and hints, racing through the database.
    const other = await connectDatabase({
      uri: databaseUri(app.deps.db.name),
      poolSize: 10,
      timeoutMs: 10_000,
    });
    registerModels(other);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat(29), { minLength: 1, maxLength: 90 }), async (picks) => {
          const campaign = await newCampaign(app);
          const at = clock.now();
          await Promise.all(
            picks.map((n, i) => logContribution(i % 2 ? other : app.deps.db, campaign._id, `c:${n}`, at)),
          );
          const leaves = await leavesOf(campaign._id);
          expect(leaves.map((l) => l.index)).toEqual(leaves.map((_, i) => i));
          expect(leaves[0]?.kind).toBe('offset'); // the campaign's starting offset, first
          expect(leaves.map((l) => l.recordId).sort()).toEqual(
            ['offset:0', ...new Set(picks.map((n) => `c:${n}`))].sort(),
          );
          expect(await logSize(app.deps.db, String(campaign._id))).toBe(leaves.length);
        }),
        { numRuns: deep(12) },
      );
    } finally {
      await other.close();
    }
  });

  it('when a member’s first payment and a gift are refunded in full, then the log appends a revoke leaf naming each one’s addition, and the signed count goes back down', async () => {
    const campaign = await newCampaign(app);
    const memberId = await memberJoins(app, clock.now());
    const giftId = String(new Types.ObjectId());
    await giftPaid(app, giftId, clock.now());
    const added = await leavesOf(campaign._id);
    expect(added.map((l) => l.kind)).toEqual(['offset', 'add', 'add']);
    expect((await checkpoint(app, campaign))?.count).toBe(2);
    const indexOf = (recordId: string) => added.find((l) => l.recordId.includes(recordId))!.index;

    clock.advance(60_000);
    await memberRefunded(app, memberId, clock.now());
    await giftRefunded(app, giftId, clock.now());
    const leaves = await leavesOf(campaign._id);
    expect(leaves.slice(0, 3)).toEqual(added); // a log only grows
    expect(
      leaves
        .slice(3)
        .map((l) => [l.kind, l.revokes])
        .sort(),
    ).toEqual(
      [
        ['revoke', indexOf(memberId)],
        ['revoke', indexOf(giftId)],
      ].sort(),
    );
    expect(await checkpoint(app, campaign)).toMatchObject({ treeSize: 5, count: 0 });
  });

  it('when a revocation is logged before its addition (a crash lost it) and again, then the addition comes first and each is one leaf', async () => {
    const campaign = await newCampaign(app);
    await Promise.all([1, 2, 3].map(() => logRevocation(app.deps.db, campaign._id, 'c:lost', clock.now())));
    const leaves = await leavesOf(campaign._id);
    expect(leaves.map((l) => [l.kind, l.revokes])).toEqual([
      ['offset', undefined],
      ['add', undefined],
      ['revoke', 1],
    ]);
  });

  it('when a process died between a leaf and its lookups, then the next delivery and the next checkpoint restore them', async () => {
    const campaign = await newCampaign(app);
    const index = await logContribution(app.deps.db, campaign._id, 'c:crash', clock.now());
    const [, leaf] = await leavesOf(campaign._id);
    const { Alias } = transparencyModels(app.deps.db);
    await Alias.deleteMany({
      _id: { $in: [recordAlias(leaf!.record), commitmentAlias(leaf!.campaignId, leaf!.commitment)] },
    });
    expect(await logContribution(app.deps.db, campaign._id, 'c:crash', clock.now())).toBe(index);
    expect(await Alias.findById(recordAlias(leaf!.record)).lean()).toMatchObject({ index });
    await Alias.deleteMany({});
    await checkpoint(app, campaign);
    expect(await Alias.findById(commitmentAlias(leaf!.campaignId, leaf!.commitment)).lean()).toMatchObject({
      index,
    });
    expect(await leavesOf(campaign._id)).toHaveLength(2);
  });
});

describe('checkpoints', () => {
  it('when a campaign runs, then it is checkpointed at once, when the log grows after the interval, at least hourly, and at a milestone', async () => {
    await campaignModels(app.deps.db).Campaign.deleteMany({});
    const campaign = await newCampaign(app, { goal: 8, milestones: [50] });
    const id = String(campaign._id);
    const run = () => signDueCheckpoints(depsOf(app));
    expect(await run()).toBe(1); // the first one
    expect(await run()).toBe(0); // nothing changed
    await memberJoins(app, clock.now());
    clock.advance(60_000);
    expect(await run()).toBe(0); // grown, but within DRIVE_CHECKPOINT_MINUTES
    clock.advance(10 * 60_000);
    expect(await run()).toBe(1); // grown, interval passed
    for (let i = 0; i < 3; i++) await memberJoins(app, clock.now());
    clock.advance(60_000);
    expect(await run()).toBe(1); // 4 of 8: the 50% milestone, signed without waiting
    clock.advance(59 * 60_000);
    expect(await run()).toBe(0);
    clock.advance(2 * 60_000);
    expect(await run()).toBe(1); // an hour without change: still signed while it runs
    const list = await checkpointsOf(app.deps.db, id);
    expect(list.map((c) => [c.treeSize, c.count])).toEqual([
      [1, 0],
      [2, 1],
      [5, 4],
      [5, 4],
    ]);
  });

  it('when two processes sign at the same moment, then one checkpoint per number exists and the chain holds', async () => {
    const campaign = await newCampaign(app);
    await memberJoins(app, clock.now());
    const results = await Promise.all(Array.from({ length: 6 }, () => checkpoint(app, campaign)));
    const stored = await checkpointsOf(app.deps.db, String(campaign._id));
    expect(results.filter(Boolean).length).toBe(stored.length);
    expect(stored.map((c) => c.sequence)).toEqual(stored.map((_, i) => i));
  });
});

describe('the public API', () => {
  it('when asked, then keys, checkpoints and proofs are public JSON any site may read', async () => {
    const campaign = await newCampaign(app);
    await memberJoins(app, clock.now());
    await checkpoint(app, campaign);
    const keys = await fetch(`${app.url}/.well-known/membership-drive-keys.json`);
    expect(keys.headers.get('access-control-allow-origin')).toBe('*');
    expect(await keys.json()).toEqual({
      keys: [
        {
          kid: 'dev',
          alg: 'Ed25519',
          jwk: { kty: 'OKP', crv: 'Ed25519', x: expect.stringMatching(/^[\w-]{43}$/) },
        },
      ],
    });
    const list = await fetch(`${app.url}/campaigns/${campaign.slug}/transparency/checkpoints`);
    const [first] = (await list.json()).checkpoints;
    expect(first).toMatchObject({ sequence: 0, treeSize: 2, count: 1, offsetClaimed: 0, kid: 'dev' });
    expect(first.note).toContain('\noffset_claimed: 0\n');
    const leaves = await (
      await fetch(`${app.url}/campaigns/${campaign.slug}/transparency/leaves?start=0&end=2`)
    ).json();
    const hex = expect.stringMatching(/^[0-9a-f]{64}$/);
    expect(leaves.leaves).toEqual([
      {
        index: 0,
        kind: 'offset',
        commitment: hex,
        amount: 0,
        staff: hex,
        reason: 'starting offset',
        data: expect.stringMatching(/^offset [0-9a-f]{64} 0 [0-9a-f]{64} "starting offset"$/),
        promise: expect.stringMatching(/^membership-drive promise v1\norigin: members\.test\/drive\//),
      },
      {
        index: 1,
        kind: 'add',
        commitment: hex,
        promise: expect.stringMatching(/\nindex: 1\n(.|\n)*\n\n— members\.test\/drive\/\S+ \S+\n$/),
      },
    ]);
    // A promise names the log (its host) and the leaf's hash, nothing of the member.
    const withoutPromises = leaves.leaves.map(({ promise: _, ...rest }: { promise: string }) => rest);
    expect(JSON.stringify(withoutPromises)).not.toMatch(/member|salt|@/);
    for (const { promise } of leaves.leaves) expect(promise.split('\n')[0]).toBe(PROMISE_FORMAT);
  });

  it('when a checkpoint is published, then it is a C2SP tlog-checkpoint in a signed note that its published verifier key verifies', async () => {
    const campaign = await newCampaign(app, { startingOffset: 7 });
    await memberJoins(app, clock.now());
    await memberJoins(app, clock.now());
    const signed = (await checkpoint(app, campaign))!;
    const base = `${app.url}/campaigns/${campaign.slug}/transparency`;
    const origin = `members.test/drive/${campaign.slug}`;
    const { vkeys, ...rest } = await (await fetch(`${base}/vkeys`)).json();
    expect(rest).toEqual({ origin });
    // <name>+<key id>+base64(0x01 || Ed25519 key), the key id SHA-256(name || 0x0A || 0x01 || key)[:4].
    const [name, keyId, material] = (vkeys as string[])[0]!.split('+') as [string, string, string];
    const raw = Buffer.from(material, 'base64');
    expect([name, raw.length, raw[0]]).toEqual([origin, 33, 1]);
    expect(keyId).toBe(
      createHash('sha256')
        .update(Buffer.concat([Buffer.from(`${origin}\n`), raw]))
        .digest()
        .subarray(0, 4)
        .toString('hex'),
    );
    const latest = await fetch(`${base}/checkpoint`);
    expect(latest.headers.get('content-type')).toMatch(/^text\/plain/);
    const note = await latest.text();
    expect(note).toBe(signed.note);
    const [text, signatures] = note.split('\n\n') as [string, string];
    const lines = text.split('\n');
    const root = (await loadLog(app.deps.db, String(campaign._id), 3)).tree.root(3).toString('base64');
    expect(lines.slice(0, 4)).toEqual([origin, '3', root, 'membership-drive checkpoint v2']);
    expect(lines).toContain('offset_claimed: 7');
    expect(lines).toContain('count: 9');
    const [dash, signer, signature] = signatures.trimEnd().split(' ') as [string, string, string];
    expect([dash, signer]).toEqual(['—', origin]);
    const bytes = Buffer.from(signature, 'base64');
    expect(bytes.subarray(0, 4).toString('hex')).toBe(keyId);
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.subarray(1).toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, Buffer.from(`${text}\n`), key, bytes.subarray(4))).toBe(true);
  });

  it('when a request is malformed, names a size beyond the signed one, or an unknown commitment or campaign, then it gets a clear 4xx', async () => {
    const campaign = await newCampaign(app);
    const memberId = await memberJoins(app, clock.now());
    const base = `${app.url}/campaigns/${campaign.slug}/transparency`;
    const code = async (path: string) => {
      const response = await fetch(path);
      return [response.status, (await response.json()).error?.code];
    };
    expect(await code(`${base}/inclusion?commitment=xyz`)).toEqual([422, 'validation_failed']);
    expect(await code(`${base}/consistency?first=2&second=1`)).toEqual([422, 'validation_failed']);
    expect(await code(`${base}/leaves?start=0&end=5`)).toEqual([422, 'validation_failed']);
    expect(await code(`${app.url}/campaigns/nope/transparency/checkpoints`)).toEqual([404, 'not_found']);
    const { receipt } = (await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${memberId}`))!;
    const [recordId, salt] = receipt.split('~') as [string, string];
    const { commitmentOf } = await import('../../src/campaigns/drive-log/log.service.js');
    const commitment = commitmentOf(String(campaign._id), 'add', recordId, salt);
    expect(await code(`${base}/inclusion?commitment=${commitment}`)).toEqual([409, 'receipt_pending']);
    await checkpoint(app, campaign);
    expect((await fetch(`${base}/inclusion?commitment=${commitment}`)).status).toBe(200);
    expect(await code(`${base}/inclusion?commitment=${'0'.repeat(64)}`)).toEqual([404, 'receipt_not_found']);
  });

  it('when the standalone verifier script is run with node against the service, then it says verified, and fails a forged receipt', async () => {
    const campaign = await newCampaign(app);
    const memberId = await memberJoins(app, clock.now());
    await checkpoint(app, campaign);
    const { receipt } = (await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${memberId}`))!;
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [
        fromRoot('bin/verify-drive.mjs'),
        app.url,
        campaign.slug,
        ...args,
        '--at',
        clock.now().toISOString(),
        '--no-state', // a one-off check: the reader's memory is test/transparency/pinned-verifier.test.ts
      ]).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
    const real = await run(receipt);
    expect(real.code).toBe(0);
    expect(real.out).toContain('receipt:       verified');
    expect(real.out).toContain('count:         1');
    const forged = await run(`${campaign._id}:member:${new Types.ObjectId()}~${'cd'.repeat(32)}`);
    expect(forged.code).toBe(1);
    expect(forged.out).toContain('receipt:       not_found');
  });
});

describe('the member account page', () => {
  it('when a counted member opens their account, then it shows their receipt and a link to check it', async () => {
    const campaign = await newCampaign(app);
    const { Member } = (await import('../../src/memberships/membership.model.js')).membershipModels(
      app.deps.db,
    );
    const member = await Member.create({
      email: `reader-${Date.now()}@example.com`,
      status: 'active',
      source: 'checkout',
      joinedAt: clock.now(),
      joinedVia: `sub_${Date.now()}`,
    });
    await logContribution(app.deps.db, campaign._id, `${campaign._id}:member:${member._id}`, clock.now());
    const { receipt } = (await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${member._id}`))!;
    const session = await startMemberSession(
      { db: app.deps.db, clock, sessions: { days: 1, idleDays: 1 } },
      String(member._id),
    );
    const page = await (
      await fetch(`${app.url}/account`, { headers: { cookie: `md_member=${session}` } })
    ).text();
    expect(page).toContain(receipt);
    expect(page).toContain(
      // Handlebars writes `=` as `&#x3D;` in attributes; the browser reads it back as `=`.
      `http://members.test/campaigns/${campaign.slug}/verify#receipt&#x3D;${encodeURIComponent(receipt)}`,
    );
  });
});

describe('contributions from before the log', () => {
  it('when the drive-log migration runs over stored contributions and revocations, then each is logged once, however often it runs', async () => {
    const campaign = await newCampaign(app);
    const { Contribution, Revocation } = campaignModels(app.deps.db);
    const ids = ['member:a', 'member:b', 'gift:c'].map((who) => `${campaign._id}:${who}`);
    await Contribution.insertMany(
      ids.map((_id, i) => ({
        _id,
        campaignId: campaign._id,
        kind: 'member',
        source: 'direct',
        countedAt: new Date(clock.now().getTime() + i),
        day: '2026-11-27',
      })),
    );
    await Revocation.create({
      _id: ids[1],
      campaignId: campaign._id,
      revokedAt: clock.now(),
      reason: 'refund',
    });
    await Promise.all([backfillDriveLog(app.deps.db), backfillDriveLog(app.deps.db)]);
    await backfillDriveLog(app.deps.db);
    const leaves = await leavesOf(campaign._id);
    expect(leaves.map((l) => [l.kind, l.recordId, l.revokes])).toEqual([
      ['offset', 'offset:0', undefined],
      ['add', ids[0], undefined],
      ['add', ids[1], undefined],
      ['add', ids[2], undefined],
      ['revoke', ids[1], 2],
    ]);
  });
});
