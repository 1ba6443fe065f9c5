import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { DEMO_ADMIN_EMAIL, DEMO_CAMPAIGN, seedDemoDrive } from '../../src/dev/demo-seed.js';
import { demoAsked } from '../../src/dev/dev-start.js';
import { createLogger } from '../../src/infra/logger.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { staffModels } from '../../src/staff/staff.model.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

const logger = createLogger({ level: 'silent' });
const clock = manualClock();
type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
const freshDb = async () => {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
};
afterAll(async () => {
  for (const db of dbs) {
    await releaseTestDatabase(db);
  }
});

describe('the demo drive seed', () => {
  let db: Db;
  beforeAll(async () => {
    db = await freshDb();
  });

  it('when the database is empty, then the campaign and a demo admin are created and the password is returned once', async () => {
    const seeded = await seedDemoDrive({ db, clock, logger, timeZone: 'UTC' });
    expect(seeded?.password).toMatch(/^[\w-]{16}$/);
    const campaigns = await campaignModels(db).Campaign.find().lean();
    expect(campaigns).toEqual([expect.objectContaining({ ...DEMO_CAMPAIGN, timeZone: 'UTC' })]);
    expect(campaigns[0]!.startsAt < clock.now() && clock.now() < campaigns[0]!.endsAt).toBe(true);
    expect(await staffModels(db).StaffUser.find().lean()).toEqual([
      expect.objectContaining({ email: DEMO_ADMIN_EMAIL, role: 'admin' }),
    ]);
  });

  it('when the development server starts again, then nothing is seeded twice', async () => {
    expect(await seedDemoDrive({ db, clock, logger, timeZone: 'UTC' })).toBeUndefined();
    expect(await campaignModels(db).Campaign.countDocuments()).toBe(1);
    expect(await staffModels(db).StaffUser.countDocuments()).toBe(1);
  });

  it('when the database already holds members, then no demo is seeded', async () => {
    const other = await freshDb();
    await membershipModels(other).Member.create({
      email: 'someone@example.com',
      status: 'active',
      source: 'checkout',
      joinedAt: clock.now(),
      joinedVia: 'sub_x',
    });
    expect(await seedDemoDrive({ db: other, clock, logger, timeZone: 'UTC' })).toBeUndefined();
    expect(await campaignModels(other).Campaign.countDocuments()).toBe(0);
    expect(await staffModels(other).StaffUser.countDocuments()).toBe(0);
  });

  it('when npm run dev is given --no-demo after its own --demo, then the demo is skipped', () => {
    expect(demoAsked(['node', 'src/server.ts', '--demo'])).toBe(true);
    expect(demoAsked(['node', 'src/server.ts', '--demo', '--no-demo'])).toBe(false);
    expect(demoAsked(['node', 'src/server.ts'])).toBe(false);
  });
});
