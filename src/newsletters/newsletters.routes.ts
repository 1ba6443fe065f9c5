import { Router } from 'express';
import { z } from 'zod';
import { embeddedSignUp, endPreflight, publicRead } from '../http/cors.js';
import { errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { type NewsletterRoutesDeps, THANK_YOU } from './newsletter-http.js';
import { optInHandlers, subscribeSchema } from './opt-in.routes.js';
import { preferencesHandlers } from './preferences.routes.js';

/** The newsletter routes: each handler lives with its use case; this only says which path is which. */
export function newsletterRoutes(deps: NewsletterRoutesDeps): Router {
  const router = Router();
  const optIn = optInHandlers(deps);
  const preferences = preferencesHandlers(deps);

  router.get('/newsletters', optIn.showForm);
  // The embedded form posts JSON from the news site's origin (src/http/cors.ts).
  router.options('/newsletters/subscriptions', embeddedSignUp, endPreflight);
  router.get('/newsletters/lists', publicRead, optIn.visibleLists);
  router.post('/newsletters/subscriptions', embeddedSignUp, optIn.signUpErrors, optIn.signUp);
  router.get('/newsletters/confirm', optIn.showConfirm);
  router.post('/newsletters/confirm', optIn.confirmErrors, optIn.confirmSubscription);
  router.post('/newsletters/confirm/resend', optIn.resend);

  router.get('/newsletters/unsubscribe', preferences.linkErrors, preferences.showPreferences);
  router.post('/newsletters/unsubscribe', preferences.unsubscribeFromLink);

  // A reader's own data (/newsletters/my-data) and staff's reader lookup are served by retention,
  // the use case above newsletters that erases an address everywhere it is held.

  router.get('/embed/newsletter-form.js', publicRead, optIn.embedScript);
  return router;
}

export function newsletterDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'post',
    path: '/newsletters/subscriptions',
    tags: ['Newsletters'],
    summary: 'Sign up (double opt-in). The same 202 whether or not the address is known.',
    request: { body: { content: { 'application/json': { schema: subscribeSchema } } } },
    responses: {
      202: {
        description: 'Accepted',
        content: { 'application/json': { schema: z.object({ message: z.literal(THANK_YOU) }) } },
      },
      422: {
        description: 'Invalid email or unknown list',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      429: {
        description: 'Too many sign-ups from this IP',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
