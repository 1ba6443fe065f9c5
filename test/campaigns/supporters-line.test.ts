import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { reconcileEverySupporter } from '../../src/memberships/supporters.js';
import { addSupporters } from '../support/supporters.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// "All thanks to N supporters" under the count, in the iframe card and the image: left out while
// the total is unknown and at 0 (a newsroom's first day showed "All thanks to 0 supporters" beside
// "612 of 1,000"); the JSON still says 0.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ PROGRESS_CACHE_SECONDS: '0' }) });
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(now - 86_400_000),
    endsAt: new Date(now + 9 * 86_400_000),
    timeZone: 'UTC',
    startingOffset: 612,
  });
});
afterAll(() => app?.close());

const read = async (path: string) => (await fetch(`${app.url}/campaigns/birthday${path}`)).text();
async function surfaces(locale: 'en' | 'uk') {
  const progress = JSON.parse(await read('/progress')) as { supporters: number | null };
  const card = await read(`/widget?supporters=1&locale=${locale}`);
  const image = await read(`/progress.svg?supporters=1&locale=${locale}`);
  const line = (html: string) =>
    /(All thanks to [^<]*|Усе завдяки [^<]*)</.exec(html)?.[1]?.replace(/\u00a0/g, ' ') ?? null;
  return { supporters: progress.supporters, card: line(card), image: line(image) };
}

describe('the supporters line of the embeds', () => {
  it('when the newsroom has no supporter yet, then the card and the image leave the line out and the JSON says 0', async () => {
    await reconcileEverySupporter(app.deps.db, new Date());
    expect(await surfaces('en')).toEqual({ supporters: 0, card: null, image: null });
  });

  it('when it has supporters, then both thank them, in either language', async () => {
    await addSupporters(app.deps.db, 3);
    expect(await surfaces('en')).toEqual({
      supporters: 3,
      card: 'All thanks to 3 supporters',
      image: 'All thanks to 3 supporters',
    });
    expect(await surfaces('uk')).toMatchObject({ card: expect.stringMatching(/^Усе завдяки 3 /) });
  });
});
