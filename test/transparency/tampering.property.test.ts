import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, parseCheckpointText, parseNote, verifyDrive } from '../../bin/drive-verify-core.mjs';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { forgetCheckpoints, noteTextHash } from '../../src/campaigns/drive-log/checkpoint.service.js';
import {
  type Checkpoint,
  type LogLeaf,
  transparencyModels,
} from '../../src/campaigns/drive-log/log.model.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { forgetLoadedLogs, loadLog } from '../../src/campaigns/drive-log/tree-cache.js';
import { deep } from '../support/depth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  checkpoint,
  fetchFrom,
  giftPaid,
  giftRefunded,
  memberJoins,
  memberRefunded,
  newCampaign,
  verify,
} from './support.js';

// A log that verifies, then one stored thing changed at a time, as a careless or dishonest operator
// could change it in the database (even re-signing with the real key): the verifier must say no.

let app: TestApp;
let campaign: Campaign;
let leaves: LogLeaf[];
let checkpoints: Checkpoint[];

beforeAll(async () => {
  app = await startTestApp();
  campaign = await newCampaign(app, { startingOffset: 40 });
  const at = (n: number) => new Date(app.deps.clock.now().getTime() - 3_600_000 + n * 1000);
  const members: string[] = [];
  for (let i = 0; i < 12; i++) {
    members.push(await memberJoins(app, at(i)));
    if (i % 4 === 3) await checkpoint(app, campaign);
  }
  await giftPaid(app, 'gift-a', at(20));
  await memberRefunded(app, members[2]!, at(21));
  await giftRefunded(app, 'gift-a', at(22));
  await memberRefunded(app, members[7]!, at(23));
  await checkpoint(app, campaign);
  const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
  leaves = await Leaf.find({ campaignId: String(campaign._id) })
    .sort({ index: 1 })
    .lean<LogLeaf[]>();
  checkpoints = await Checkpoint.find({ campaignId: String(campaign._id) })
    .sort({ sequence: 1 })
    .lean<Checkpoint[]>();
});
afterAll(() => app.close());

function forget() {
  forgetLoadedLogs(app.deps.db);
  forgetCheckpoints(app.deps.db);
}

/** Rewrites a checkpoint's signed text and signs it again, with the service's own key by default. */
function resigned(
  c: Checkpoint,
  change: (fields: Record<string, string | number>) => void,
  signer = createSigner(app.deps.config.transparency.keys),
): Partial<Checkpoint> {
  const fields: Record<string, string | number> = { ...parseCheckpointText(parseNote(c.note)!.text)! };
  change(fields);
  const note = signer.signNote(checkpointText(fields), String(fields.origin));
  return { note, hash: noteTextHash(note), count: Number(fields.count), treeSize: Number(fields.tree_size) };
}

const otherHex = (hex: string) => (hex[0] === 'a' ? 'b' : 'a') + hex.slice(1);

type LeafTamper = 'commitment' | 'kind' | 'revokes' | 'swap' | 'remove-last';
type CheckpointTamper =
  | 'count-unsigned'
  | 'body-count'
  | 'signature'
  | 'other-key'
  | 'resigned-count'
  | 'resigned-additions'
  | 'resigned-offset-kept-count'
  | 'resigned-root'
  | 'resigned-previous'
  | 'removed';

async function tamperLeaf(how: LeafTamper, i: number): Promise<void> {
  const { Leaf } = transparencyModels(app.deps.db);
  const leaf = leaves[i]!;
  if (how === 'commitment')
    await Leaf.updateOne({ _id: leaf._id }, { $set: { commitment: otherHex(leaf.commitment) } });
  if (how === 'kind')
    await Leaf.updateOne(
      { _id: leaf._id },
      leaf.kind === 'add'
        ? { $set: { kind: 'revoke', revokes: 0 } }
        : { $set: { kind: 'add' }, $unset: { revokes: 1 } },
    );
  if (how === 'revokes')
    await Leaf.updateOne({ _id: leaf._id }, { $set: { kind: 'revoke', revokes: (leaf.revokes ?? 0) + 1 } });
  if (how === 'swap') {
    const j = i === 0 ? 1 : i - 1;
    const other = leaves[j]!;
    await Leaf.updateOne(
      { _id: leaf._id },
      { $set: { commitment: other.commitment, kind: other.kind, revokes: other.revokes } },
    );
    await Leaf.updateOne(
      { _id: other._id },
      { $set: { commitment: leaf.commitment, kind: leaf.kind, revokes: leaf.revokes } },
    );
  }
  if (how === 'remove-last') await Leaf.deleteOne({ _id: leaves.at(-1)!._id });
}

async function tamperCheckpoint(how: CheckpointTamper, k: number): Promise<void> {
  const { Checkpoint } = transparencyModels(app.deps.db);
  const c = checkpoints[k]!;
  const set = (fields: Partial<Checkpoint>) => Checkpoint.updateOne({ _id: c._id }, { $set: fields });
  if (how === 'count-unsigned') await set({ count: c.count + 1 });
  if (how === 'body-count')
    await set({ note: c.note.replace(/^count: (.*)$/m, (_, n) => `count: ${Number(n) + 1}`) });
  if (how === 'signature') {
    const [text, line] = c.note.split('\n\n') as [string, string];
    const [dash, name, signature] = line.trim().split(' ') as [string, string, string];
    const flipped = Buffer.from(signature, 'base64').map((b, i) => (i === 5 ? b ^ 1 : b));
    await set({ note: `${text}\n\n${dash} ${name} ${Buffer.from(flipped).toString('base64')}\n` });
  }
  if (how === 'other-key')
    // The same text under the log's name, signed by a key the log does not publish.
    await set(resigned(c, () => {}, createSigner([{ kid: 'someone-else', seed: randomBytes(32) }])));
  if (how === 'resigned-count')
    await set(
      resigned(c, (f) => {
        f.count = String(Number(f.count) + 1);
      }),
    );
  if (how === 'resigned-additions')
    await set(
      resigned(c, (f) => {
        f.additions = String(Number(f.additions) + 1);
        f.count = String(Number(f.count) + 1);
      }),
    );
  if (how === 'resigned-offset-kept-count')
    // More members claimed as proven, fewer as offset: the count stays, the proof does not.
    await set(
      resigned(c, (f) => {
        f.additions = String(Number(f.additions) + 5);
        f.offset_claimed = String(Number(f.offset_claimed) - 5);
      }),
    );
  if (how === 'resigned-root')
    await set(
      resigned(c, (f) => {
        f.root = otherHex(String(f.root));
      }),
    );
  if (how === 'resigned-previous')
    await set(
      resigned(c, (f) => {
        f.previous = f.previous === 'none' ? 'ab'.repeat(32) : otherHex(String(f.previous));
      }),
    );
  if (how === 'removed') await Checkpoint.deleteOne({ _id: c._id });
}

async function restore(): Promise<void> {
  const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
  await Leaf.deleteMany({ campaignId: String(campaign._id) });
  await Leaf.insertMany(leaves);
  await Checkpoint.deleteMany({ campaignId: String(campaign._id) });
  await Checkpoint.insertMany(checkpoints);
  forget();
}

describe('tampering with the stored log', () => {
  it('when nothing is changed, then the log and the count verify', async () => {
    expect(checkpoints.length).toBeGreaterThanOrEqual(4);
    const result = await verify(app, campaign);
    expect(result.problems).toEqual([]);
    expect(result.latest).toMatchObject({ additions: 13, revocations: 3, offset_claimed: 40, count: 50 });
  });

  it('when any stored leaf is changed, removed or moved, then the verifier does not accept the log', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<LeafTamper>('commitment', 'kind', 'revokes', 'swap', 'remove-last'),
        fc.nat(),
        async (how, pick) => {
          await tamperLeaf(how, pick % leaves.length);
          forget();
          try {
            const result = await verify(app, campaign);
            expect(result.ok).toBe(false);
            expect(result.problems.length).toBeGreaterThan(0);
          } finally {
            await restore();
          }
        },
      ),
      { numRuns: deep(25) },
    );
  });

  it('when any checkpoint, its count or its signature is changed (even re-signed with the real key), then the verifier does not accept the log', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<CheckpointTamper>(
          'count-unsigned',
          'body-count',
          'signature',
          'other-key',
          'resigned-count',
          'resigned-additions',
          'resigned-offset-kept-count',
          'resigned-root',
          'resigned-previous',
        ),
        fc.nat(),
        async (how, pick) => {
          await tamperCheckpoint(how, pick % checkpoints.length);
          forget();
          try {
            const result = await verify(app, campaign);
            expect(result.ok).toBe(false);
          } finally {
            await restore();
          }
        },
      ),
      { numRuns: deep(30) },
    );
  });

  it('when the whole history is rewritten and re-signed, then a reader who kept an earlier checkpoint hash notices', async () => {
    const pin = { sequence: 1, hash: checkpoints[1]!.hash };
    await tamperCheckpoint('resigned-count', 1);
    forget();
    try {
      const result = await verifyPinned(pin);
      expect(result.problems).toContain(
        `checkpoint 1 is not the one seen before (${pin.hash.slice(0, 12)}…)`,
      );
    } finally {
      await restore();
    }
    expect((await verifyPinned(pin)).ok).toBe(true);
  });

  it('when newer checkpoints are withheld, then a reader who saw one notices, and anyone notices once the hour is over', async () => {
    const latest = checkpoints.at(-1)!;
    await tamperCheckpoint('removed', checkpoints.length - 2); // the list now ends before it
    forget();
    try {
      const seen = await verifyPinned({ sequence: latest.sequence, hash: latest.hash });
      expect(seen.ok).toBe(false);
      const withheld = await verifyPinned({ sequence: 0, hash: checkpoints[0]!.hash });
      expect(withheld.ok).toBe(true); // within the hour, a withheld checkpoint looks like none yet
      const later = await verifyPinned(
        { sequence: 0, hash: checkpoints[0]!.hash },
        new Date(latest.time.getTime() + 3 * 3_600_000),
      );
      expect(later.problems).toContain('the latest checkpoint is 180 minutes old while the campaign runs');
    } finally {
      await restore();
    }
  });
});

function verifyPinned(pin: { sequence: number; hash: string }, now = app.deps.clock.now()) {
  return verifyDrive({ fetchJson: fetchFrom(app), slug: campaign.slug, pinned: [pin], now });
}

/** Re-signs only the newest checkpoint, with the real key, over the root of the leaves as now stored. */
async function resignNewestOverStoredLeaves(): Promise<void> {
  forget();
  const newest = checkpoints.at(-1)!;
  const log = await loadLog(app.deps.db, String(campaign._id), newest.treeSize);
  const root = log.tree.root(newest.treeSize).toString('base64');
  await transparencyModels(app.deps.db)
    .Checkpoint.updateOne(
      { _id: newest._id },
      {
        $set: resigned(newest, (f) => {
          f.root = root;
        }),
      },
    )
    .exec();
  forget();
}

describe('a log re-signed with the real key', () => {
  it('when an early leaf is changed and only the newest checkpoint is re-signed over it, then the verifier refuses it: the older checkpoints are no longer a prefix', async () => {
    const { Leaf } = transparencyModels(app.deps.db);
    await Leaf.updateOne({ _id: leaves[0]!._id }, { $set: { commitment: otherHex(leaves[0]!.commitment) } });
    await resignNewestOverStoredLeaves();
    try {
      const result = await verify(app, campaign);
      const n = checkpoints.length - 1;
      // The leaves hash to the newest root and every count adds up: the proofs say no (each
      // checkpoint whose proof needs the changed leaf's subtree, the newest among them), and the
      // leaf is no longer the one the log promised.
      expect(result.problems).toContain(`checkpoint ${n} is not consistent with checkpoint ${n - 1}`);
      expect(result.problems.filter((p) => !/^checkpoint \d+ is not consistent with/.test(p))).toEqual([
        'leaf 0 is not the leaf its promise names',
      ]);
      expect(result.ok).toBe(false);
    } finally {
      await restore();
    }
  });

  it('when a newest leaf’s commitment is not a SHA-256, or repeats another leaf’s, then the verifier names that leaf', async () => {
    const { Leaf } = transparencyModels(app.deps.db);
    const last = leaves.at(-1)!;
    for (const [commitment, problem] of [
      [last.commitment.toUpperCase(), `leaf ${last.index}: the commitment is not a SHA-256 in lowercase hex`],
      [leaves[0]!.commitment, `leaf ${last.index} repeats the commitment of leaf 0`],
    ] as const) {
      await Leaf.updateOne({ _id: last._id }, { $set: { commitment } });
      await resignNewestOverStoredLeaves();
      try {
        expect([...(await verify(app, campaign)).problems].sort()).toEqual(
          [problem, `leaf ${last.index} is not the leaf its promise names`].sort(),
        );
      } finally {
        await restore();
      }
    }
  });

  it('when a checkpoint says a negative count whose sum adds up, then the verifier refuses it', async () => {
    const newest = checkpoints.at(-1)!;
    await transparencyModels(app.deps.db)
      .Checkpoint.updateOne(
        { _id: newest._id },
        {
          $set: resigned(newest, (f) => {
            f.revocations = Number(f.additions) + Number(f.offset_claimed) + 1;
            f.count = -1;
          }),
        },
      )
      .exec();
    forget();
    try {
      expect((await verify(app, campaign)).problems).toContain(
        `checkpoint ${newest.sequence}: the count is negative`,
      );
    } finally {
      await restore();
    }
  });

  it('when another campaign’s log is served for this campaign, or a checkpoint is re-signed under another log’s name, then the verifier refuses it', async () => {
    const other = await newCampaign(app);
    await checkpoint(app, other);
    const redirected = (path: string) =>
      fetchFrom(app)(path.replace(`/campaigns/${campaign.slug}/`, `/campaigns/${other.slug}/`));
    const served = await verifyDrive({
      fetchJson: redirected,
      slug: campaign.slug,
      now: app.deps.clock.now(),
    });
    expect(served.ok).toBe(false);
    expect(served.problems[0]).toMatch(
      new RegExp(`^the log's origin \\(.*/drive/${other.slug}\\) is not that of campaign ${campaign.slug}$`),
    );

    const newest = checkpoints.at(-1)!;
    const renamed = resigned(newest, (f) => {
      f.origin = String(f.origin).replace(campaign.slug, other.slug);
    });
    await transparencyModels(app.deps.db).Checkpoint.updateOne({ _id: newest._id }, { $set: renamed }).exec();
    forget();
    try {
      const result = await verify(app, campaign);
      expect(result.problems).toContain(
        `checkpoint ${newest.sequence} is of another log (${renamed.note!.split('\n')[0]})`,
      );
    } finally {
      await restore();
    }
  });
});
