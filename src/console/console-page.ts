import type { Request, RequestHandler, Response } from 'express';
import type { AppError } from '../http/errors.js';
import { errorsAsPage } from '../http/negotiate.js';
import { type PageBrand, renderPage } from '../http/pages.js';
import type { StaffRole } from '../staff/staff.model.js';
import type { StaffIdentity } from '../staff/staff-auth.service.js';

// The console's pages share one layout whose navigation shows each role only what it may open.

export const CONSOLE_SECTIONS: { id: string; label: string; href: string; roles: StaffRole[] }[] = [
  { id: 'overview', label: 'Drive overview', href: '/console', roles: ['admin', 'finance', 'editor'] },
  { id: 'campaigns', label: 'Campaigns', href: '/console/campaigns', roles: ['admin', 'editor'] },
  { id: 'members', label: 'Members', href: '/console/members', roles: ['admin', 'finance'] },
  { id: 'sources', label: 'Where members come from', href: '/console/sources', roles: ['admin', 'finance'] },
  { id: 'reports', label: 'Finance reports', href: '/dashboard', roles: ['admin', 'finance'] },
];

export const rolesFor = (section: string) => CONSOLE_SECTIONS.find((s) => s.id === section)!.roles;

export function sendConsolePage(
  res: Response,
  name: string,
  data: Record<string, unknown> & { title: string; section: string },
  status = 200,
): void {
  const staff = res.req.staff as StaffIdentity | undefined;
  const nav = staff
    ? CONSOLE_SECTIONS.filter((s) => s.roles.includes(staff.role)).map((s) => ({
        ...s,
        current: s.id === data.section,
      }))
    : [];
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .type('html')
    .send(
      renderPage(
        `console/${name}`,
        { ...data, staff, nav, locale: 'en', brand: res.locals.brand as PageBrand },
        'console/layout',
      ),
    );
}

/**
 * How the console shows an error: not signed in → the sign-in form; a role without access → a page
 * saying who may use it; anything else → the message on the section's page.
 */
export function consoleErrors(
  section: string,
  render?: (res: Response, error: AppError, req: Request) => void,
): RequestHandler {
  return errorsAsPage((res, error, req) => {
    if (error.code === 'unauthorized')
      return sendConsolePage(res, 'sign-in', { title: 'Sign in', section, next: req.originalUrl }, 401);
    if (error.code === 'forbidden') {
      const roles = rolesFor(section);
      return sendConsolePage(
        res,
        'forbidden',
        { title: 'Not available', section, roles: roles.join(', '), role: req.staff?.role },
        403,
      );
    }
    if (render) return render(res, error, req);
    sendConsolePage(
      res,
      'message',
      { title: 'Something went wrong', section, message: error.message },
      error.status,
    );
  });
}
