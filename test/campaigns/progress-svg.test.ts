import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { checkpoint, memberJoins, memberRefunded, newCampaign } from '../transparency/support.js';

// The progress image names the drive log's checkpoint its number comes from, in its <desc> and
// data-checkpoint-* attributes, in the reader's language (src/campaigns/README.md, "What each
// embed says about the log"); before the first checkpoint it claims none.

let app: TestApp;
let campaign: Campaign;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ PROGRESS_CACHE_SECONDS: '0' }) });
  campaign = await newCampaign(app, { title: 'Birthday & more', startingOffset: 40 });
});
afterAll(() => app.close());

/** XML text as a reader of the image gets it: entities and character references decoded. */
const decoded = (xml: string | undefined) =>
  xml
    ?.replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(
      /&(lt|gt|quot|apos|amp);/g,
      (_, name: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[name]!,
    );

async function image(query = '') {
  const res = await fetch(`${app.url}/campaigns/${campaign.slug}/progress.svg${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  const svg = await res.text();
  const attribute = (name: string) => decoded(svg.match(new RegExp(`<svg [^>]*\\b${name}="([^"]*)"`))?.[1]);
  return {
    title: decoded(svg.match(/<title>([^<]*)<\/title>/)?.[1]),
    desc: decoded(svg.match(/<desc>([^<]*)<\/desc>/)?.[1]),
    sequence: attribute('data-checkpoint-sequence'),
    size: attribute('data-checkpoint-size'),
    root: attribute('data-checkpoint-root'),
    count: attribute('data-checkpoint-count'),
    pending: attribute('data-pending'),
  };
}

const progress = async () =>
  (await (await fetch(`${app.url}/campaigns/${campaign.slug}/progress`)).json()) as {
    count: number;
    checkpoint: { root: string } | null;
  };

describe('the progress image and the checkpoint behind its number', () => {
  it('when no checkpoint is signed yet, then its description says so and it names no checkpoint', async () => {
    expect(await image()).toEqual({
      title: 'Birthday & more: 40 of 1,000 new members (4%)',
      desc: 'The drive log has no signed checkpoint yet: this count can be checked once the first is signed.',
      sequence: undefined,
      size: undefined,
      root: undefined,
      count: undefined,
      pending: undefined,
    });
    expect((await image('?locale=uk')).desc).toBe(
      'Журнал кампанії ще не має підписаної контрольної точки: перевірити цю кількість можна буде після першої.',
    );
  });

  it('when a checkpoint is signed and members join or are refunded after it, then the description names its sequence, count and size and what changed since, in English and Ukrainian', async () => {
    const first = await memberJoins(app, app.deps.clock.now());
    await memberJoins(app, app.deps.clock.now());
    await checkpoint(app, campaign); // number 0: the offset leaf and two joins
    const { root } = (await progress()).checkpoint!;
    expect(await image()).toEqual({
      title: 'Birthday & more: 42 of 1,000 new members (4%)',
      desc: 'Signed checkpoint 0 of the drive log: count 42, log size 3.',
      sequence: '0',
      size: '3',
      root,
      count: '42',
      pending: '0',
    });

    await memberJoins(app, app.deps.clock.now());
    await memberJoins(app, app.deps.clock.now());
    expect(await image()).toMatchObject({
      title: 'Birthday & more: 44 of 1,000 new members (4%)',
      desc: 'Signed checkpoint 0 of the drive log: count 42, log size 3. Since then: +2, not yet signed.',
      size: '3',
      root,
      pending: '2',
    });
    expect((await image('?locale=uk')).desc).toBe(
      'Підписана контрольна точка 0 журналу кампанії: кількість 42, розмір журналу 3. Відтоді: +2, ще не підписано.',
    );

    // A second checkpoint covers the joins; a refund after it is shown as a change taken back.
    await checkpoint(app, campaign);
    await memberRefunded(app, first, app.deps.clock.now());
    expect((await progress()).count).toBe(43);
    expect(await image()).toMatchObject({
      desc: 'Signed checkpoint 1 of the drive log: count 44, log size 5. Since then: -1, not yet signed.',
      sequence: '1',
      size: '5',
      count: '44',
      pending: '-1',
    });
  });
});
