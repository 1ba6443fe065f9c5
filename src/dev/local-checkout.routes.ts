import { type Request, type Response, Router } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { errorsAsPage } from '../http/negotiate.js';
import { type PageBrand, renderPage } from '../http/pages.js';
import { emailField, parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import { DEFAULT_LOCALE, formatMoney } from '../shared/messages.js';
import {
  deliverEvents,
  eventsForPayment,
  findLocalSession,
  type LocalSession,
  OUTCOMES,
} from './local-checkout.js';

// The local checkout's payment page (development, LOCAL_CHECKOUT): shows what is being paid and,
// on "Pay", sends the signed Stripe events for it through our own webhook, then goes on to the
// session's success page as Stripe would.

export interface LocalCheckoutRoutesDeps {
  db: Connection;
  clock: Clock;
  brandName: string;
  webhookSecret: string;
}

const sessionId = z.string().regex(/^cs_local_[0-9a-f]{24}$/);
const payment = z.object({
  email: emailField,
  name: z.string().trim().max(200).optional(),
  outcome: z.enum(OUTCOMES).default('paid'),
});

/** As the hosted pages and emails show money (the one formatter): "US$7.50", not "$7.50". */
const price = (s: LocalSession) => formatMoney(s.amount, s.currency.toUpperCase(), DEFAULT_LOCALE);

export function localCheckoutRoutes(deps: LocalCheckoutRoutesDeps): Router {
  const router = Router();

  const load = async (req: Request) => {
    const session = await findLocalSession(deps.db, parseInput(sessionId, req.params.id));
    if (!session) throw new AppError('not_found', 'There is no such checkout.');
    return session;
  };

  const page = (
    res: Response,
    session: LocalSession,
    form: { email?: string; name?: string },
    error?: AppError,
  ) =>
    res
      .status(error?.status ?? 200)
      .type('html')
      .send(
        renderPage('dev/checkout', {
          title: 'Local checkout',
          brand: res.locals.brand as PageBrand,
          id: session._id,
          productName: session.productName,
          price: price(session),
          interval: session.interval,
          email: form.email ?? session.email,
          name: form.name ?? session.metadata.name,
          cancelUrl: session.cancelUrl,
          error: error && { message: error.message, details: error.details },
        }),
      );

  router.get('/dev/checkout/:id', async (req, res) => page(res, await load(req), {}));

  router.post(
    '/dev/checkout/:id',
    async (req, res, next) => {
      res.locals.localSession = await load(req);
      next();
    },
    // A bad email shows the payment page again with the message, as Stripe's page would.
    errorsAsPage((res, error, req) => page(res, res.locals.localSession, req.body ?? {}, error)),
    async (req, res) => {
      const session = res.locals.localSession as LocalSession;
      const { email, name, outcome } = parseInput(payment, req.body);
      const at = Math.floor(deps.clock.now().getTime() / 1000);
      const events = eventsForPayment(session, { email, name }, outcome, at);
      // The events go to this very process, on the socket this request came in on (not to whatever
      // the Host header names).
      const { localAddress, localPort } = req.socket;
      const host = localAddress?.includes(':') ? `[${localAddress}]` : localAddress;
      await deliverEvents(`http://${host}:${localPort}/webhooks/stripe`, deps.webhookSecret, events);
      res.redirect(303, session.successUrl.replace('{CHECKOUT_SESSION_ID}', session._id));
    },
  );

  return router;
}
