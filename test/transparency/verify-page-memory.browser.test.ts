import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { forgetCheckpoints } from '../../src/campaigns/drive-log/checkpoint.service.js';
import { transparencyModels } from '../../src/campaigns/drive-log/log.model.js';
import { logSize } from '../../src/campaigns/drive-log/log.service.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { forgetLoadedLogs } from '../../src/campaigns/drive-log/tree-cache.js';
import { fromRoot } from '../../src/infra/paths.js';
import { launchChromium, watchErrors } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, memberJoins, newCampaign } from './support.js';

// The verify page remembers, in the reader's browser, the keys it pinned and the newest checkpoint
// it verified, and refuses a log that went back or is signed by another key (the same rules as
// bin/verify-drive.mjs; test/transparency/pinned-verifier.test.ts replays every attack on the CLI).

let app: TestApp;
let copy: Server;
let copyUrl: string;
let browser: Browser;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  // Another origin: a copy of the page and its two scripts, as a readers' association could host
  // them (the page's data-service and data-vkey filled in), in front of the newsroom's stylesheets.
  copy = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://copy');
    if (url.pathname.startsWith('/transparency/')) {
      const file =
        url.pathname === '/transparency/drive-verify-page.js'
          ? 'templates/embed/drive-verify-page.js'
          : 'bin/drive-verify-core.mjs';
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(fromRoot(file)));
      return;
    }
    const upstream = await fetch(`${app.url}${url.pathname}`);
    let body = await upstream.text();
    if (url.pathname.endsWith('/verify'))
      body = body
        .replace('data-service=""', `data-service="${app.url}"`)
        .replace('data-vkey=""', `data-vkey="${url.searchParams.get('pin') ?? ''}"`);
    res
      .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
      .end(body);
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => copy.once('listening', resolve));
  copyUrl = `http://127.0.0.1:${(copy.address() as AddressInfo).port}`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  copy?.close();
  await app?.close();
});

async function joins(n: number) {
  for (let i = 0; i < n; i++) await memberJoins(app, new Date(Date.now() - 60_000 + i));
}

async function outcomeOf(
  context: BrowserContext,
  url: string,
): Promise<{ result: string; refusal: string; page: Page }> {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(url);
  const outcome = page.locator('#outcome');
  await expect.poll(() => outcome.getAttribute('data-result'), { timeout: 15_000 }).not.toBeNull();
  expect(errors).toEqual([]);
  return {
    result: (await outcome.getAttribute('data-result'))!,
    refusal: (await outcome.getAttribute('data-refusal')) ?? '',
    page,
  };
}

describe('the verify page’s memory', () => {
  it('when the log is rolled back after a reader checked it, then the page refuses it on the next visit', async () => {
    const campaign: Campaign = await newCampaign(app);
    await joins(4);
    await checkpoint(app, campaign);
    await joins(4);
    await checkpoint(app, campaign); // 9 entries: the offset leaf and 8 joins
    const context = await browser.newContext();
    const url = `${app.url}/campaigns/${campaign.slug}/verify`;
    const first = await outcomeOf(context, url);
    expect(first.result).toBe('verified');
    const stored = JSON.parse(
      (await first.page.evaluate(() => localStorage.getItem('membership-drive-verifier')))!,
    );
    expect(stored.logs[`members.test/drive/${campaign.slug}`].checkpoint).toMatchObject({
      sequence: 1,
      size: 9,
    });

    // Back to 7 entries, re-signed with the real key.
    const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
    const campaignId = String(campaign._id);
    await Leaf.deleteMany({ campaignId, index: { $gte: 7 } });
    await Checkpoint.deleteMany({ campaignId, treeSize: { $gt: 7 } });
    forgetLoadedLogs(app.deps.db);
    forgetCheckpoints(app.deps.db);
    await logSize(app.deps.db, campaignId);
    await checkpoint(app, campaign);

    const second = await outcomeOf(context, url);
    expect(second.refusal).toBe('rollback');
    expect(second.result).toBe('refused');
    expect(await second.page.locator('#log-result').textContent()).toBe(
      'Refused: the log went back since this browser last checked it',
    );
    const fresh = await outcomeOf(await browser.newContext(), url);
    expect(fresh.result).toBe('verified'); // a browser that saw nothing before cannot tell
    await context.close();
  });

  it('when a copy of the page on another origin pins a key in the page, then it checks the log with that key and refuses another', async () => {
    const campaign: Campaign = await newCampaign(app);
    await joins(2);
    await checkpoint(app, campaign);
    const origin = `members.test/drive/${campaign.slug}`;
    const [real] = createSigner(app.deps.config.transparency.keys).vkeys(origin);
    const [stranger] = createSigner([{ kid: 'x', seed: randomBytes(32) }]).vkeys(origin);
    const page = (vkey: string) =>
      `${copyUrl}/campaigns/${campaign.slug}/verify?pin=${encodeURIComponent(vkey)}`;
    const refused = await outcomeOf(await browser.newContext(), page(stranger!));
    expect(refused.refusal).toBe('key_change');
    const pinned = await outcomeOf(await browser.newContext(), page(real!));
    expect(pinned.result).toBe('verified');
    const stored = JSON.parse(
      (await pinned.page.evaluate(() => localStorage.getItem('membership-drive-verifier')))!,
    );
    expect(stored.logs[origin].vkeys).toEqual([real]);
    expect(stored.addresses).toEqual({ [`${app.url}/campaigns/${campaign.slug}`]: origin });
  });
});
