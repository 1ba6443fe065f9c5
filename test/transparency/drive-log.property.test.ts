import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { receiptOf } from '../../src/campaigns/drive-log/log.service.js';
import { deep } from '../support/depth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  checkpoint,
  giftPaid,
  giftRefunded,
  memberJoins,
  memberRefunded,
  newCampaign,
  verify,
} from './support.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

type Action =
  | { t: 'join' }
  | { t: 'gift' }
  | { t: 'refund-member'; pick: number }
  | { t: 'refund-gift'; pick: number }
  | { t: 'again'; pick: number }
  | { t: 'checkpoint' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.constant({ t: 'join' as const }), weight: 4 },
  { arbitrary: fc.constant({ t: 'gift' as const }), weight: 2 },
  { arbitrary: fc.nat().map((pick) => ({ t: 'refund-member' as const, pick })), weight: 2 },
  { arbitrary: fc.nat().map((pick) => ({ t: 'refund-gift' as const, pick })), weight: 1 },
  { arbitrary: fc.nat().map((pick) => ({ t: 'again' as const, pick })), weight: 2 },
  { arbitrary: fc.constant({ t: 'checkpoint' as const }), weight: 1 },
);

describe('the drive log under random joins and refunds', () => {
  it('when joins, refunds, redeliveries and checkpoints come in any order and concurrently, then the standalone verifier accepts every checkpoint, the count and every receipt', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(action, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 7 }),
        fc.nat(500),
        async (batches, offset) => {
          const campaign = await newCampaign(app, { startingOffset: offset });
          const at = (n: number) => new Date(app.deps.clock.now().getTime() - 86_400_000 + n * 1000);
          const members: string[] = [];
          const gifts: string[] = [];
          const refunded = new Set<string>();
          const done: (() => Promise<unknown>)[] = [];
          let step = 0;
          for (const batch of batches) {
            // Each batch runs concurrently; refunds pick from what earlier batches did.
            const [knownMembers, knownGifts, knownDone] = [[...members], [...gifts], [...done]];
            await Promise.all(
              batch.map(async (a) => {
                const t = at(step++);
                let run: (() => Promise<unknown>) | undefined;
                if (a.t === 'join') {
                  members.push(await memberJoins(app, t));
                  return;
                }
                if (a.t === 'gift') {
                  const giftId = `g${step}-${Math.random().toString(36).slice(2, 8)}`;
                  gifts.push(giftId);
                  run = () => giftPaid(app, giftId, t);
                } else if (a.t === 'refund-member' && knownMembers.length > 0) {
                  const who = knownMembers[a.pick % knownMembers.length]!;
                  refunded.add(`member:${who}`);
                  run = () => memberRefunded(app, who, t);
                } else if (a.t === 'refund-gift' && knownGifts.length > 0) {
                  const giftId = knownGifts[a.pick % knownGifts.length]!;
                  refunded.add(`gift:${giftId}`);
                  run = () => giftRefunded(app, giftId, t);
                } else if (a.t === 'again' && knownDone.length > 0) {
                  run = knownDone[a.pick % knownDone.length]!; // a redelivered event
                } else if (a.t === 'checkpoint') {
                  run = () => checkpoint(app, campaign);
                }
                if (!run) return;
                if (a.t !== 'again') done.push(run);
                await run();
              }),
            );
          }
          await checkpoint(app, campaign);

          const result = await verify(app, campaign);
          expect(result.problems).toEqual([]);
          expect(result.ok).toBe(true);
          const contributions = members.length + gifts.length;
          expect(result.latest).toMatchObject({
            additions: contributions,
            revocations: refunded.size,
            offset_claimed: offset,
            count: offset + contributions - refunded.size,
          });
          // The live count (the tally the widget reads) and the proven one agree.
          expect(result.latest!.count).toBe(await countOf(app.deps.db, campaign));

          for (const who of [...members.map((m) => `member:${m}`), ...gifts.map((g) => `gift:${g}`)]) {
            const own = await receiptOf(app.deps.db, campaign._id, `${campaign._id}:${who}`);
            const checked = await verify(app, campaign, own!.receipt);
            expect(checked.receipt).toBe(refunded.has(who) ? 'revoked' : 'verified');
          }
          const forged = `${campaign._id}:member:${'0'.repeat(24)}~${'ab'.repeat(32)}`;
          expect((await verify(app, campaign, forged)).receipt).toBe('not_found');
        },
      ),
      { numRuns: deep(10) },
    );
  }, 180_000);
});
