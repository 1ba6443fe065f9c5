import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { decideOnce } from '../../src/infra/claims.js';
import { staffToken } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';

// A change carries the version it was made from; a change from a version someone already changed
// is refused (409 edit_conflict) with the campaign as it is now, so no save overwrites another.

let app: TestApp;
let auth: Record<string, string>;
const clock = manualClock();

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  auth = { authorization: (await staffToken(app.url, app.deps.db, 'editor')).authorization };
});
afterAll(() => app.close());

let n = 0;
async function createCampaign() {
  const res = await fetch(`${app.url}/campaigns`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      slug: `edited-${++n}`,
      title: 'Birthday drive',
      goal: 500,
      startsAt: '2026-11-01T00:00:00.000Z',
      endsAt: '2026-12-01T00:00:00.000Z',
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { slug: string; version: number };
}
const patch = (slug: string, body: unknown) =>
  fetch(`${app.url}/campaigns/${slug}`, {
    method: 'PATCH',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
async function stored(slug: string) {
  const res = await fetch(`${app.url}/campaigns`, { headers: auth });
  const { campaigns } = (await res.json()) as { campaigns: Array<Record<string, unknown>> };
  const { count: _count, ...campaign } = campaigns.find((c) => c.slug === slug)!;
  return campaign;
}
type Answer = { status: number; body: Record<string, unknown> & { error?: Record<string, unknown> } };
const answer = async (res: Response): Promise<Answer> => ({
  status: res.status,
  body: (await res.json()) as Answer['body'],
});

describe('changing a campaign from the version read', () => {
  it('when two changes from the same version race, then one is saved and the other is refused with the campaign as it is now', async () => {
    for (let round = 0; round < 5; round++) {
      const { slug, version } = await createCampaign();
      const [a, b] = await Promise.all([
        patch(slug, { version, goal: 600 }).then(answer),
        patch(slug, { version, title: 'Renamed drive' }).then(answer),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const [won, lost] = a.status === 200 ? [a, b] : [b, a];
      expect(lost.body.error).toMatchObject({ code: 'edit_conflict', current: won.body });
      const now = await stored(slug);
      expect(now).toEqual(won.body);
      expect(now.version).toBe(version + 1);
      // The loser's change is not in what is stored: either the goal or the title is as created.
      expect(now.goal === 600 && now.title === 'Renamed drive').toBe(false);
    }
  });

  it('when a change is made from a version someone changed since, then 409 and their change stays', async () => {
    const { slug, version } = await createCampaign();
    const first = await answer(await patch(slug, { version, goal: 600 }));
    expect(first).toMatchObject({ status: 200, body: { goal: 600, version: version + 1 } });
    const stale = await answer(await patch(slug, { version, title: 'Renamed drive', goal: 500 }));
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'edit_conflict',
      current: { goal: 600, title: 'Birthday drive', version: version + 1 },
    });
    expect(await stored(slug)).toMatchObject({ goal: 600, title: 'Birthday drive' });
    // Sent again from the version the conflict gave, it is saved.
    const merged = await answer(await patch(slug, { version: version + 1, title: 'Renamed drive' }));
    expect(merged).toMatchObject({ status: 200, body: { goal: 600, title: 'Renamed drive' } });
  });

  it('when a campaign is ended, then a change from the version before the end is refused', async () => {
    const { slug, version } = await createCampaign();
    expect((await fetch(`${app.url}/campaigns/${slug}/end`, { method: 'POST', headers: auth })).status).toBe(
      200,
    );
    const stale = await answer(await patch(slug, { version, endsAt: '2026-12-24T00:00:00.000Z' }));
    expect(stale.status).toBe(409);
    expect((await stored(slug)).endsAt).not.toBe('2026-12-24T00:00:00.000Z');
  });

  it('when a save won its version and died before writing it, then after 30 seconds the next save finishes it and is refused', async () => {
    const { slug, version } = await createCampaign();
    const stored = await campaignModels(app.deps.db).Campaign.findOne({ slug }).lean();
    // The claim a save takes before its write, written by a process that then stopped.
    await decideOnce(app.deps.db, `campaign-edit:${stored!._id}:${version}`, clock.now(), [
      { path: 'goal', value: 700 },
      { path: 'version', value: version + 1 },
    ]);
    const early = await answer(await patch(slug, { version, title: 'Renamed drive' }));
    expect(early.status).toBe(409);
    clock.advance(31_000);
    const late = await answer(await patch(slug, { version, title: 'Renamed drive' }));
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ current: { goal: 700, title: 'Birthday drive', version: 1 } });
    const merged = await answer(await patch(slug, { version: version + 1, title: 'Renamed drive' }));
    expect(merged).toMatchObject({ status: 200, body: { goal: 700, title: 'Renamed drive', version: 2 } });
  });
});
