import { type Request, type Response, Router } from 'express';
import { AppError, type ErrorDetail } from '../http/errors.js';
import { parseInput } from '../http/validate.js';
import { listDeliveries, redeliver } from '../integrations/deliveries.service.js';
import {
  createEndpoint,
  deleteEndpoint,
  type EndpointDeps,
  type EndpointKind,
  EVENT_TYPES_OF,
  endpointView,
  findEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from '../integrations/endpoints.service.js';
import { endpointUpdateSchema } from '../integrations/webhooks.routes.js';
import { inLocale, isMessageKey, type Locale, type MessageKey, translate } from '../shared/messages.js';
import { consoleFormats } from './console-locale.js';
import { consoleErrors, localeOf, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';
import { staleFormNotes } from './stale-form.js';

// Outgoing webhooks in the console (admins): the endpoints, adding one (its secret shown once, on
// the page the form answers with, never stored for a later page), rotating a secret (the same),
// enabling, disabling, deleting, editing the URL, events and description (checked and saved by
// the same schema and service function as the API's PATCH), and each endpoint's delivery log with
// a redeliver button. Plain forms: everything works without JavaScript. The integrations
// capability does the work.

const ID = /^ep_[0-9a-f]{24}$/;
const DELIVERY = /^[0-9a-f]{24}$/;
const list = (value: unknown) => ([] as unknown[]).concat(value ?? []).map(String);
/** Each field's problem beside it, in the console's language when the catalogue has the message. */
const fieldErrors = (locale: Locale, details: ErrorDetail[] | undefined) =>
  Object.fromEntries(
    (details ?? []).filter((d) => d.path).map((d) => [d.path!.split('.')[0], inLocale(locale, d.message)]),
  );
const endpointIdOf = (req: Request) => {
  const id = String(req.params.id ?? /^\/console\/webhooks\/([^/?#]+)/.exec(req.originalUrl)?.[1] ?? '');
  if (!ID.test(id)) throw new AppError('not_found', translate('en', 'console.webhooks.endpointNotFound'));
  return id;
};

export function webhookConsoleRoutes(deps: EndpointDeps & { timeZone: string }): Router {
  const router = Router();
  /** Moments in the console's language, on the newsroom's clocks. */
  const whenFor = (res: Response) => consoleFormats(localeOf(res), deps.timeZone).moment;
  const admins = consoleRole(...rolesFor('webhooks'));
  const section = 'webhooks';
  const page = (
    res: Response,
    name: string,
    data: Record<string, unknown> & { title: string },
    status = 200,
  ) => sendConsolePage(res, name, { ...data, section }, status);

  router.get('/console/webhooks', consoleErrors(section), admins, async (req, res) => {
    const now = deps.clock.now();
    const when = whenFor(res);
    const endpoints = (await listEndpoints(deps.db)).map((e) => endpointView(e, now));
    page(res, 'webhooks', {
      title: 'console.webhooks.listTitle',
      notice: req.query.deleted ? translate(localeOf(res), 'console.webhooks.deleted') : undefined,
      endpoints: endpoints.map((e) => ({
        ...e,
        slack: e.kind === 'slack',
        events: e.events.join(', '),
        created: when(e.createdAt),
      })),
    });
  });

  const newForm = (res: Response, values: Record<string, unknown>, error?: AppError) => {
    const locale = localeOf(res);
    page(
      res,
      'webhook-new',
      {
        title: 'console.webhooks.newTitle',
        values: { ...values, chosen: Object.fromEntries(list(values.events).map((e) => [e, true])) },
        standardEvents: EVENT_TYPES_OF.standard,
        slackEvents: EVENT_TYPES_OF.slack,
        errors: fieldErrors(locale, error?.details),
        error:
          error &&
          (error.code === 'webhook_target_unsafe'
            ? translate(locale, 'console.webhooks.unsafe')
            : error.details?.length
              ? translate(locale, 'console.webhooks.fixFields')
              : inLocale(locale, error.message)),
      },
      error?.status ?? 200,
    );
  };

  router.get('/console/webhooks/new', consoleErrors(section), admins, (_req, res) =>
    newForm(res, { kind: 'standard' }),
  );

  router.post(
    '/console/webhooks',
    consoleErrors(section, (res, error, req) => newForm(res, formValues(req), error)),
    admins,
    async (req, res) => {
      const values = formValues(req);
      if (!values.url || values.events.length === 0)
        throw new AppError('validation_failed', undefined, [
          ...(values.url ? [] : [{ path: 'url', message: translate('en', 'console.webhooks.urlMissing') }]),
          ...(values.events.length
            ? []
            : [{ path: 'events', message: translate('en', 'console.webhooks.eventsMissing') }]),
        ]);
      const { endpoint, secret } = await createEndpoint(deps, {
        url: values.url,
        kind: values.kind,
        events: values.events,
        description: values.description || undefined,
      });
      // The only page that shows this secret; the answer is not cached (sendConsolePage: no-store).
      page(
        res,
        'webhook-secret',
        { title: 'console.webhooks.secretTitle', endpoint: endpointView(endpoint, deps.clock.now()), secret },
        201,
      );
    },
  );

  /** The endpoint's page; `edit` is the edit form as typed, when it was refused. */
  const endpointPage = async (
    req: Request,
    res: Response,
    edit?: { values: EditValues; error: AppError },
  ) => {
    const now = deps.clock.now();
    const locale = localeOf(res);
    const when = whenFor(res);
    const endpoint = endpointView(await findEndpoint(deps.db, endpointIdOf(req)), now);
    const deliveries = await listDeliveries(deps.db, endpoint.id, 50);
    const opened = formOf(endpoint);
    // A colleague saved since this form was opened: their values and the typed ones, side by side.
    const merge =
      edit?.error.code === 'edit_conflict' ? mergeAfterConflict(locale, edit.values, endpoint) : undefined;
    const values = merge?.values ?? (edit ? { ...edit.values } : opened);
    const unsafe = edit?.error.code === 'webhook_target_unsafe';
    page(
      res,
      'webhook',
      {
        title: endpoint.url,
        endpoint: {
          ...endpoint,
          slack: endpoint.kind === 'slack',
          events: endpoint.events.join(', '),
          created: when(endpoint.createdAt),
          disabledAt: when(endpoint.disabledAt),
        },
        edit: {
          values: {
            ...values,
            chosen: Object.fromEntries(values.events.map((e) => [e, true])),
            // A refused form keeps the version it was opened at; after a conflict, it is on the current one.
            version: merge || !edit ? endpoint.version : edit.values.version,
            loaded: merge || !edit ? loadedField(opened) : edit.values.loaded,
          },
          choices: EVENT_TYPES_OF[endpoint.kind],
          notes: merge?.notes ?? {},
          errors: unsafe
            ? { url: translate(locale, 'console.webhooks.unsafe') }
            : fieldErrors(locale, edit?.error.details),
          error:
            edit &&
            (merge
              ? translate(locale, 'console.webhooks.conflict')
              : unsafe || edit.error.details?.length
                ? translate(locale, 'console.webhooks.fixFields')
                : inLocale(locale, edit.error.message)),
        },
        secrets: endpoint.secrets.map((x) =>
          x.expiresAt
            ? translate(locale, 'console.webhooks.secretSince', {
                created: when(x.createdAt),
                until: when(x.expiresAt),
              })
            : translate(locale, 'console.webhooks.secretSinceOpen', { created: when(x.createdAt) }),
        ),
        notice: req.query.saved
          ? translate(locale, 'console.webhooks.saved')
          : req.query.redelivered
            ? translate(locale, 'console.webhooks.redelivered')
            : undefined,
        deliveries: deliveries.map((d) => ({
          id: d.id,
          eventType: d.eventType,
          webhookId: d.webhookId,
          status: isMessageKey(`console.webhooks.deliveryStatus.${d.status}`)
            ? translate(locale, `console.webhooks.deliveryStatus.${d.status}` as MessageKey)
            : d.status,
          created: when(d.createdAt),
          attempts: d.attempts.map((a) =>
            translate(locale, 'console.webhooks.attempt', {
              n: String(a.attempt),
              at: when(a.at),
              answer: a.status
                ? `HTTP ${a.status}`
                : (a.error ?? translate(locale, 'console.webhooks.noAnswer')),
              ms: a.durationMs,
            }),
          ),
        })),
      },
      edit?.error.status ?? 200,
    );
  };

  router.get('/console/webhooks/:id', consoleErrors(section), admins, (req, res) => endpointPage(req, res));

  // The edit form: the same schema and the same writer as `PATCH /admin/webhooks/endpoints/:id`,
  // so the same URL rule (safe targets) and the same events per kind. A refusal answers with the
  // page and the form as typed, the field marked; nothing is saved.
  router.post('/console/webhooks/:id/edit', consoleErrors(section), admins, async (req, res) => {
    const id = endpointIdOf(req);
    const values = editValues(req);
    try {
      if (values.events.length === 0)
        throw new AppError('validation_failed', undefined, [
          { path: 'events', message: translate('en', 'console.webhooks.eventsMissing') },
        ]);
      const { url, events, description } = values;
      const version =
        values.version === '' ? undefined : /^\d{1,9}$/.test(values.version) ? Number(values.version) : -1;
      await updateEndpoint(deps, id, {
        ...parseInput(endpointUpdateSchema, { url, events, description }),
        version,
      });
    } catch (error) {
      const refused =
        error instanceof AppError &&
        ['validation_failed', 'webhook_target_unsafe', 'edit_conflict'].includes(error.code);
      if (!refused) throw error;
      return endpointPage(req, res, { values, error });
    }
    res.redirect(303, `/console/webhooks/${id}?saved=1`);
  });

  router.post('/console/webhooks/:id/enabled', consoleErrors(section), admins, async (req, res) => {
    const id = endpointIdOf(req);
    await updateEndpoint(deps, id, { enabled: req.body?.enabled === 'true' });
    res.redirect(303, `/console/webhooks/${id}?saved=1`);
  });

  router.post('/console/webhooks/:id/rotate', consoleErrors(section), admins, async (req, res) => {
    const hours = Number(req.body?.overlapHours ?? 24);
    const overlap = Number.isInteger(hours) && hours >= 0 && hours <= 168 ? hours : 24;
    const { endpoint, secret } = await rotateSecret(deps, endpointIdOf(req), overlap);
    const view = endpointView(endpoint, deps.clock.now());
    const previous = view.secrets.find((x) => x.expiresAt);
    page(res, 'webhook-secret', {
      title: 'console.webhooks.secretTitle',
      endpoint: view,
      secret,
      overlap: previous
        ? translate(localeOf(res), 'console.webhooks.secretOverlap', {
            until: whenFor(res)(previous.expiresAt),
          })
        : undefined,
    });
  });

  router.post('/console/webhooks/:id/delete', consoleErrors(section), admins, async (req, res) => {
    await deleteEndpoint(deps.db, endpointIdOf(req));
    res.redirect(303, '/console/webhooks?deleted=1');
  });

  router.post(
    '/console/webhooks/deliveries/:id/redeliver',
    consoleErrors(section),
    admins,
    async (req, res) => {
      const id = String(req.params.id);
      if (!DELIVERY.test(id))
        throw new AppError('not_found', translate('en', 'console.webhooks.deliveryNotFound'));
      const delivery = await redeliver(deps, id);
      res.redirect(303, `/console/webhooks/${delivery.endpointId}?redelivered=1`);
    },
  );

  return router;
}

/** The form as typed: the events of the kind chosen (each kind has its own checkboxes). */
function formValues(req: Request) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const kind: EndpointKind = body.kind === 'slack' ? 'slack' : 'standard';
  return {
    url: String(body.url ?? '')
      .trim()
      .slice(0, 2_000),
    kind,
    events: list(kind === 'slack' ? body.slackEvents : body.events).slice(0, 50),
    description: String(body.description ?? '')
      .trim()
      .slice(0, 200),
  };
}

type EditValues = ReturnType<typeof editValues>;

/**
 * The edit form as typed, checked by the API's schema (the kind is the endpoint's; it cannot
 * change), with the version it was opened at and what it held then (`loaded`, for a conflict).
 */
function editValues(req: Request) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return {
    url: String(body.url ?? ''),
    events: list(body.events),
    description: String(body.description ?? ''),
    version: String(body.version ?? '').trim(),
    loaded: String(body.loaded ?? ''),
  };
}

type FormFields = Pick<EditValues, 'url' | 'events' | 'description'>;
const EDITABLE = ['url', 'events', 'description'] as const;

/** The stored endpoint as the form shows it. */
const formOf = (e: { url: string; events: string[]; description: string | null }): FormFields => ({
  url: e.url,
  events: e.events,
  description: e.description ?? '',
});

/** What the form held when it was opened, sent back with it so a conflict can say who changed what. */
const loadedField = (values: FormFields) =>
  JSON.stringify(Object.fromEntries(EDITABLE.map((k) => [k, values[k]])));

/** A field's value as compared and shown: the events in a stable order, text as the schema trims it. */
const shown = (field: (typeof EDITABLE)[number], form: Partial<FormFields>) =>
  field === 'events' ? [...new Set(list(form.events))].sort().join(', ') : String(form[field] ?? '').trim();

/**
 * A save refused because a colleague saved since the form was opened: the form again, on the
 * current version, holding the colleague's values and the typed ones where they do not clash; each
 * field that differs says what the colleague saved and what was typed, so nothing typed is lost.
 */
function mergeAfterConflict(
  locale: Locale,
  typed: EditValues,
  current: { url: string; events: string[]; description: string | null },
) {
  const now = formOf(current);
  const { notes, keepMine } = staleFormNotes(locale, {
    typed,
    current: now,
    fields: EDITABLE,
    read: (field, form) => shown(field as (typeof EDITABLE)[number], form),
  });
  const values: FormFields = { ...now };
  for (const field of keepMine) Object.assign(values, { [field]: typed[field as keyof EditValues] });
  return { values, notes };
}
