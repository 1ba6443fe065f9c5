import type { Connection } from 'mongoose';
import type { Browser, Page } from 'playwright-core';
import type { StaffRole } from '../../src/staff/staff.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { STAFF_PASSWORD } from './staff.js';

/** A staff user of this role, signed in to the console through its form in a new page. */
export async function consolePage(
  browser: Browser,
  baseUrl: string,
  db: Connection,
  role: StaffRole,
  options: { colorScheme?: 'light' | 'dark' } = {},
): Promise<Page> {
  const email = `${role}.console@newsroom.example`;
  await createStaffUser(db, { email, name: `${role} person`, role, password: STAFF_PASSWORD }).catch(
    (error) => {
      if ((error as { code?: number }).code !== 11000) throw error;
    },
  );
  const page = await browser.newPage({
    viewport: { width: 1280, height: 900 },
    colorScheme: options.colorScheme,
  });
  await page.goto(`${baseUrl}/console`);
  await page.fill('#email', email);
  await page.fill('#password', STAFF_PASSWORD);
  await Promise.all([
    page.waitForURL(`${baseUrl}/console`),
    page.click('form[action="/console/sign-in"] button'),
  ]);
  return page;
}
