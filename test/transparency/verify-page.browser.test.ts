import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { receiptOf } from '../../src/campaigns/drive-log/log.service.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, memberJoins, memberRefunded, newCampaign } from './support.js';

// The verify page runs the standalone verifier in the reader's browser (WebCrypto: SHA-256 and
// Ed25519), against the real service.

let app: TestApp;
let browser: Browser;
let campaign: Campaign;
let receipt: string;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  campaign = await newCampaign(app, { startingOffset: 100 });
  const members = [];
  for (let i = 0; i < 5; i++) members.push(await memberJoins(app, new Date(Date.now() - 60_000 + i)));
  await checkpoint(app, campaign);
  await memberRefunded(app, members[4]!, new Date());
  await checkpoint(app, campaign);
  receipt = (await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${members[1]}`))!.receipt;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('the verify page in Chromium', () => {
  it('when a member opens their receipt link, then the page says the count and their receipt are verified', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${app.url}/campaigns/${campaign.slug}/verify#receipt=${encodeURIComponent(receipt)}`);
    const outcome = page.locator('#outcome');
    await expect.poll(() => outcome.getAttribute('data-result'), { timeout: 15_000 }).toBe('verified');
    expect(await page.locator('#log-result').textContent()).toBe('The count is verified');
    expect(await page.locator('[data-field="count"]').textContent()).toBe('104');
    expect(await page.locator('[data-field="proven"]').textContent()).toBe('5 counted − 1 taken back = 4');
    expect(await page.locator('[data-field="offset"]').textContent()).toBe('100');
    // A first check lists the starting number's entries: here only the first one.
    expect(await page.locator('#offset-changes').isVisible()).toBe(true);
    expect(await page.locator('#offset-list li').allTextContents()).toEqual([
      expect.stringMatching(
        /^\+100 \(reason: “starting offset”\) on \d{4}-.*, by staff [0-9a-f]{64}, entry 0$/,
      ),
    ]);
    expect(await page.locator('[data-field="log"]').textContent()).toBe(
      `members.test/drive/${campaign.slug}`,
    );
    expect(await page.locator('#receipt-result').getAttribute('data-result')).toBe('verified');
    expect(await page.locator('#receipt-result').textContent()).toContain('Your receipt is verified');
    await screenshot(page, 'drive-verify-verified');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when an editor changes the starting offset after this browser checked, then the next check passes and shows the change with its amount, reason, date and hashed staff id', async () => {
    const moved = await newCampaign(app, { startingOffset: 30 });
    await memberJoins(app, new Date(Date.now() - 60_000));
    await checkpoint(app, moved);
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${app.url}/campaigns/${moved.slug}/verify`);
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('verified');
    expect(await page.locator('[data-field="offset"]').textContent()).toBe('30');

    const editor = await staffToken(app.url, app.deps.db, 'editor');
    const patched = await fetch(`${app.url}/campaigns/${moved.slug}`, {
      method: 'PATCH',
      headers: { authorization: editor.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ startingOffset: 50, offsetReason: 'print subscribers counted too' }),
    });
    expect(patched.status).toBe(200);
    await checkpoint(app, moved);

    await page.reload();
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('verified');
    expect(await page.locator('[data-field="count"]').textContent()).toBe('51');
    expect(await page.locator('[data-field="offset"]').textContent()).toBe('50');
    expect(await page.locator('#offset-changes').isVisible()).toBe(true);
    expect(await page.locator('#offset-changes-title').textContent()).toBe(
      'The starting number changed since this browser last checked (checkpoint 0):',
    );
    expect(await page.locator('#offset-list li').allTextContents()).toEqual([
      expect.stringMatching(
        /^\+20 \(reason: “print subscribers counted too”\) on \d{4}-.*, by staff [0-9a-f]{64}, entry 2$/,
      ),
    ]);
    expect(await page.locator('#outcome').textContent()).not.toContain('not verifiable');
    await screenshot(page, 'drive-verify-offset-changed');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when a Ukrainian member opens their receipt link, then the page and what its script writes are in Ukrainian', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(
      `${app.url}/campaigns/${campaign.slug}/verify?locale=uk#receipt=${encodeURIComponent(receipt)}`,
    );
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('verified');
    expect(await page.locator('h1').textContent()).toBe('Перевірити підрахунок');
    expect(await page.locator('#receipt').getAttribute('placeholder')).toBe('запис~сіль');
    expect(await page.locator('#log-result').textContent()).toBe('Підрахунок перевірено');
    expect(await page.locator('[data-field="proven"]').textContent()).toBe('5 пораховано − 1 відкликано = 4');
    expect(await page.locator('[data-field="checkpoint"]').textContent()).toMatch(
      /^номер \d+, \d+ записів, підписано \d{4}-/,
    );
    expect(await page.locator('#offset-changes-title').textContent()).toBe(
      'Записи початкового числа в журналі (перший і кожна його зміна):',
    );
    expect(await page.locator('#offset-list li').allTextContents()).toEqual([
      expect.stringMatching(
        /^\+100 \(причина: «starting offset»\) \d{4}-.*, працівник [0-9a-f]{64}, запис 0$/,
      ),
    ]);
    expect(await page.locator('#receipt-result').textContent()).toBe(
      'Вашу квитанцію перевірено: ваше членство пораховано в цьому журналі.',
    );
    expect(
      await page.getByRole('link', { name: 'Зберегти цю сторінку, щоб перевіряти без нас' }).count(),
    ).toBe(1);
    await screenshot(page, 'drive-verify-verified-uk');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when someone types a forged receipt, then the page says it was not found', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/campaigns/${campaign.slug}/verify`);
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('verified');
    const [recordId] = receipt.split('~');
    await page.fill('#receipt', `${recordId}~${'0'.repeat(64)}`);
    await page.click('button[type="submit"]');
    await expect
      .poll(() => page.locator('#receipt-result').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('not_found');
    expect(await page.locator('#receipt-result').textContent()).toBe(
      'Your receipt was not found in this campaign’s log.',
    );
    await screenshot(page, 'drive-verify-not-found');
    await page.close();
  });
});
