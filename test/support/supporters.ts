import type { Connection } from 'mongoose';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { reconcileEverySupporter } from '../../src/memberships/supporters.js';

/**
 * `n` more active members, counted into the supporters total: the embeds leave their "All thanks to
 * N supporters" line out at 0 (src/campaigns/progress.service.ts, thankedSupporters).
 */
export async function addSupporters(db: Connection, n: number, tag = 'supporter'): Promise<number> {
  await membershipModels(db).Member.insertMany(
    Array.from({ length: n }, (_, i) => ({
      email: `${tag}${i + 1}-${Math.random().toString(36).slice(2, 8)}@example.com`,
      status: 'active',
      source: 'checkout',
      joinedAt: new Date(Date.now() - 40 * 86_400_000),
      joinedVia: `sub_${tag}${i + 1}`,
    })),
  );
  return reconcileEverySupporter(db, new Date());
}

/** A member's fields with `status`, as checkout would write them (a random address). */
export const memberRow = (status: string) => ({
  email: `s${Math.random().toString(36).slice(2)}@example.com`,
  status,
  source: 'checkout',
  joinedAt: new Date(),
  joinedVia: 'cs_test',
});

/** `n` members with `status`, written through the model (so each is reconciled). */
export const joinMembers = (db: Connection, n: number, status = 'active') =>
  membershipModels(db).Member.insertMany(Array.from({ length: n }, () => memberRow(status)));
