import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { escapeHtml } from '../http/pages.js';
import { parseInput } from '../http/validate.js';
import { EMAIL_TEMPLATES, isTemplateName, LOCALES } from './catalog.js';
import type { EmailRenderer } from './renderer.js';

const previewQuery = z.object({
  locale: z.enum(LOCALES).default('en'),
  part: z.enum(['html', 'text']).default('html'),
});

/** Development only: every template rendered with its sample data, to look at in a browser. */
export function emailPreviewRoutes(renderer: EmailRenderer): Router {
  const router = Router();

  router.get('/dev/emails', (_req, res) => {
    const rows = Object.keys(EMAIL_TEMPLATES)
      .map((name) => {
        const links = LOCALES.map(
          (locale) =>
            `<a href="/dev/emails/${name}?locale=${locale}">${locale} HTML</a> · ` +
            `<a href="/dev/emails/${name}?locale=${locale}&part=text">${locale} text</a>`,
        ).join(' · ');
        return `<li><strong>${escapeHtml(name)}</strong>: ${links}</li>`;
      })
      .join('\n');
    res
      .type('html')
      .send(`<!doctype html><title>Email previews</title><h1>Email previews</h1><ul>${rows}</ul>`);
  });

  router.get('/dev/emails/:template', (req, res) => {
    const name = req.params.template;
    if (!isTemplateName(name))
      throw new AppError('not_found', `There is no email template called "${name}".`);
    const { locale, part } = parseInput(previewQuery, req.query);
    const rendered = renderer.render(name, locale, EMAIL_TEMPLATES[name].sample, {
      unsubscribeUrl: 'http://localhost:3000/newsletters/unsubscribe?token=sample',
    });
    res.setHeader('X-Email-Subject', encodeURIComponent(rendered.subject));
    if (part === 'text') return res.type('text/plain; charset=utf-8').send(rendered.text);
    // Email HTML carries inline styles and remote images (the logo) by design.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; img-src * data:; style-src 'unsafe-inline'",
    );
    res.type('html').send(rendered.html);
  });

  return router;
}
