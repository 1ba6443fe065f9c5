import { Types } from 'mongoose';
import { expect, it } from 'vitest';
import type { Member, Subscription } from '../../src/memberships/membership.model.js';
import { joinLatestSubscriptions } from '../../src/reports/member-stream.js';

async function* stream<T>(items: T[]) {
  yield* items;
}

it('when members and subscriptions stream in member order, then each member gets its latest subscription and strays are skipped', async () => {
  const [stray, a, b, c] = ['10', '20', '30', '40'].map((n) => new Types.ObjectId(n.padStart(24, '0')));
  const member = (_id: Types.ObjectId) => ({ _id }) as unknown as Member;
  const sub = (id: string, memberId: Types.ObjectId, lastEventCreated: number) =>
    ({ _id: id, memberId, lastEventCreated }) as unknown as Subscription;

  const pairs = [];
  for await (const [m, s] of joinLatestSubscriptions(
    stream([member(a!), member(b!), member(c!)]),
    stream([sub('orphan', stray!, 1), sub('a-new', a!, 9), sub('a-old', a!, 3), sub('c', c!, 1)]),
  ))
    pairs.push([String(m._id), s?._id]);

  expect(pairs).toEqual([
    [String(a), 'a-new'],
    [String(b), undefined],
    [String(c), 'c'],
  ]);
});
