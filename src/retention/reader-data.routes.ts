import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { emailField, parseInput } from '../http/validate.js';
import { verifyLink } from '../infra/signed-links.js';
import { type NewsletterRoutesDeps, page } from '../newsletters/newsletter-http.js';
import { requireRole } from '../staff/require-role.js';
import { deleteReaderData, exportReaderData } from './reader-data.service.js';

// A reader's own data, behind the signed, expiring link in the welcome email; and the same for
// an admin answering a reader's request.

type ReaderDataDeps = Pick<NewsletterRoutesDeps, 'db' | 'clock' | 'linkSecret' | 'staffAuth'>;

export function readerDataRoutes(deps: ReaderDataDeps) {
  function verifiedDataLink(source: Record<string, unknown>): string {
    const { e, exp, sig } = parseInput(
      z.object({ e: emailField, exp: z.coerce.number().int(), sig: z.string().min(20).max(100) }),
      source,
    );
    if (
      !verifyLink(deps.linkSecret, sig, 'my-data', e, String(exp)) ||
      exp * 1000 < deps.clock.now().getTime()
    ) {
      throw new AppError('forbidden', 'This link is not valid or has expired.');
    }
    return e;
  }

  async function downloadMyData(req: Request, res: Response) {
    const email = verifiedDataLink(req.query);
    res
      .set('Content-Disposition', 'attachment; filename="my-newsletter-data.json"')
      .json(await exportReaderData(deps.db, email));
  }

  async function deleteMyData(req: Request, res: Response) {
    const email = verifiedDataLink({ ...req.query, ...req.body });
    await deleteReaderData(deps.db, email, deps.clock.now());
    page(res, 'newsletter-message', {
      heading: 'Your data is deleted',
      message: 'We no longer hold any newsletter data about this address.',
    });
  }

  async function exportForAdmin(req: Request, res: Response) {
    res.json(await exportReaderData(deps.db, parseInput(emailField, req.params.email)));
  }

  async function deleteForAdmin(req: Request, res: Response) {
    await deleteReaderData(deps.db, parseInput(emailField, req.params.email), deps.clock.now());
    res.status(204).end();
  }

  const router = Router();
  const admin = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin');
  router.get('/newsletters/my-data', downloadMyData);
  router.post('/newsletters/my-data/delete', deleteMyData);
  router.get('/admin/newsletters/readers/:email', admin, exportForAdmin);
  router.delete('/admin/newsletters/readers/:email', admin, deleteForAdmin);
  return router;
}
