import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { campaignModels } from '../campaigns/campaign.model.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { runOnce } from '../infra/migrations.js';
import { type ImportedMember, importMembers } from '../memberships/member-import.js';
import { membershipModels } from '../memberships/membership.model.js';
import { staffModels } from '../staff/staff.model.js';
import { createStaffUser } from '../staff/staff-auth.service.js';

// The demo drive `npm run dev` seeds, so a first start shows the widget moving: a campaign with a
// starting count, the supporters behind it, a staff admin for the console, and the /demo article
// page that embeds them.

export const DEMO_CAMPAIGN = {
  slug: 'birthday',
  title: '1,000 new members for our birthday',
  goal: 1000,
  startingOffset: 612,
} as const;
export const DEMO_ADMIN_EMAIL = 'demo-admin@newsroom.example';
/**
 * The newsroom's existing supporters, brought in as `npm run import` would bring them (active,
 * joined over the years before the drive), so the supporters line says what a real newsroom's would
 * rather than "0 supporters" beside "612 of 1,000".
 */
export const DEMO_SUPPORTERS = 1240;

const DAY_MS = 86_400_000;

/** True when nothing a newsroom would miss is stored: no campaign, member or staff user. */
async function isEmpty(db: Connection): Promise<boolean> {
  const counts = await Promise.all([
    campaignModels(db).Campaign.estimatedDocumentCount(),
    membershipModels(db).Member.estimatedDocumentCount(),
    staffModels(db).StaffUser.estimatedDocumentCount(),
  ]);
  return counts.every((n) => n === 0);
}

/** Active imported members who joined over the five years before the drive (none of them new). */
async function seedSupporters(deps: { db: Connection; clock: Clock }, now: number): Promise<void> {
  const rows: ImportedMember[] = Array.from({ length: DEMO_SUPPORTERS }, (_, i) => ({
    email: `demo-supporter-${i + 1}@newsroom.example`,
    joinedAt: new Date(now - 60 * DAY_MS - Math.floor(i * 1.4 * DAY_MS)),
    status: 'active',
    labels: ['demo'],
  }));
  for (let at = 0; at < rows.length; at += 500)
    await importMembers(deps, rows.slice(at, at + 500), { joinedVia: 'import:demo' });
}

/**
 * Seeds the demo once per database, and only into an empty one (a database with data of its own is
 * left alone, and is not asked again). Returns the admin's generated password when it seeded.
 */
export async function seedDemoDrive(deps: {
  db: Connection;
  clock: Clock;
  logger: Logger;
  timeZone: string;
}): Promise<{ password: string } | undefined> {
  const seeded = await runOnce(deps.db, 'demo-drive', async () => {
    if (!(await isEmpty(deps.db))) return 'not-empty' as const;
    const now = deps.clock.now().getTime();
    await campaignModels(deps.db).Campaign.create({
      ...DEMO_CAMPAIGN,
      startsAt: new Date(now - 21 * DAY_MS),
      endsAt: new Date(now + 30 * DAY_MS),
      timeZone: deps.timeZone,
    });
    await seedSupporters(deps, now);
    const password = randomBytes(12).toString('base64url');
    await createStaffUser(deps.db, {
      email: DEMO_ADMIN_EMAIL,
      name: 'Demo admin',
      role: 'admin',
      password,
    });
    return { password };
  });
  if (seeded === 'not-empty') deps.logger.info('the database already holds data: no demo drive seeded');
  return typeof seeded === 'object' ? seeded : undefined;
}
