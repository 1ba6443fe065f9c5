import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { launchChromium, watchErrors } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, memberJoins, newCampaign } from './support.js';

// The verify page saved to disk (`/campaigns/:slug/verify/standalone.html`): one file, opened from
// `file://`, that checks the newsroom with its own inline code and the keys pinned in it.

let app: TestApp;
let browser: Browser;
let campaign: Campaign;
let dir: string;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  campaign = await newCampaign(app, { startingOffset: 10 });
  for (let i = 0; i < 3; i++) await memberJoins(app, new Date(Date.now() - 60_000 + i));
  await checkpoint(app, campaign);
  dir = await mkdtemp(path.join(tmpdir(), 'saved-verify-'));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function download(): Promise<string> {
  const response = await fetch(`${app.url}/campaigns/${campaign.slug}/verify/standalone.html`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-disposition')).toBe(
    `attachment; filename=verify-${campaign.slug}.html`,
  );
  return response.text();
}

async function openFromDisk(
  html: string,
  name: string,
  { noStorage = false } = {},
): Promise<{ page: Page; errors: string[] }> {
  const file = path.join(dir, name);
  await writeFile(file, html);
  const page = await (await browser.newContext()).newPage();
  // As a browser that gives pages from files no storage: reading localStorage throws.
  if (noStorage)
    await page.addInitScript(() =>
      Object.defineProperty(window, 'localStorage', {
        get: () => {
          throw new DOMException('no storage for files', 'SecurityError');
        },
      }),
    );
  const errors = watchErrors(page);
  await page.goto(pathToFileURL(file).href);
  await expect
    .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
    .not.toBeNull();
  return { page, errors };
}

describe('the verify page saved to disk', () => {
  it('when a reader opens the saved page from a file, then it checks the service and says verified with the count', async () => {
    const html = await download();
    const origin = `members.test/drive/${campaign.slug}`;
    const [real] = createSigner(app.deps.config.transparency.keys).vkeys(origin);
    expect(html).toContain(`data-service="${app.url}"`);
    expect(html).toContain(`data-vkey="${real}"`);
    expect(html).not.toContain('type="module"');

    // A page from a file sends `Origin: null`; the transparency routes answer any origin.
    const asked = await fetch(`${app.url}/campaigns/${campaign.slug}/transparency/vkeys`, {
      headers: { origin: 'null' },
    });
    expect(asked.headers.get('access-control-allow-origin')).toBe('*');

    const { page, errors } = await openFromDisk(html, 'verify.html');
    expect(page.url()).toMatch(/^file:\/\//);
    expect(await page.locator('#outcome').getAttribute('data-result')).toBe('verified');
    expect(await page.locator('#log-result').textContent()).toBe('The count is verified');
    expect(await page.locator('[data-field="count"]').textContent()).toBe('13');
    expect(await page.locator('[data-field="log"]').textContent()).toBe(origin);
    // Chromium gives pages opened from files one storage of their own: the check is remembered.
    expect(await page.locator('#outcome').getAttribute('data-remembered')).toBe('yes');
    expect(await page.locator('#memory-result').isHidden()).toBe(true);
    const stored = JSON.parse(
      (await page.evaluate(() => localStorage.getItem('membership-drive-verifier')))!,
    );
    expect(stored.logs[origin]).toMatchObject({ vkeys: [real], checkpoint: { size: 4 } });
    expect(errors).toEqual([]);
  });

  it('when the saved page pins another key than the log signs with, then it refuses the log', async () => {
    const html = await download();
    const [stranger] = createSigner([{ kid: 'x', seed: randomBytes(32) }]).vkeys(
      `members.test/drive/${campaign.slug}`,
    );
    const edited = html.replace(/data-vkey="[^"]*"/, `data-vkey="${stranger}"`);
    expect(edited).not.toBe(html);

    const { page } = await openFromDisk(edited, 'verify-other-key.html');
    expect(await page.locator('#outcome').getAttribute('data-result')).toBe('refused');
    expect(await page.locator('#outcome').getAttribute('data-refusal')).toBe('key_change');
    expect(await page.locator('#log-result').textContent()).toBe(
      'Refused: the newest checkpoint is not signed by the key this browser pinned',
    );
  });

  it('when the browser gives the saved page no storage, then it still verifies and says it remembers nothing', async () => {
    const { page, errors } = await openFromDisk(await download(), 'verify-no-storage.html', {
      noStorage: true,
    });
    expect(await page.locator('#outcome').getAttribute('data-result')).toBe('verified');
    expect(await page.locator('#outcome').getAttribute('data-remembered')).toBe('no');
    expect(await page.locator('#memory-result').isVisible()).toBe(true);
    expect(await page.locator('#memory-result').textContent()).toBe(
      'This browser gives this page no storage, so it remembers nothing: every check here is a first check, trusting only the keys pinned in the page.',
    );
    expect(errors).toEqual([]);
  });

  it('when a reader opens the verify page, then it links to the page to save', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/campaigns/${campaign.slug}/verify`);
    const link = page.getByRole('link', { name: 'Save this page to check without us' });
    expect(await link.getAttribute('href')).toBe(`/campaigns/${campaign.slug}/verify/standalone.html`);
    await page.close();
  });
});
