import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { fromRoot } from '../infra/paths.js';

/**
 * The staff dashboard: a static page and its script (no build step), with Chart.js served from
 * the installed package. All data comes from the reports API with the staff token.
 */
export function dashboardRoutes(): Router {
  const router = Router();
  const page = readFileSync(fromRoot('templates/pages/dashboard.html'), 'utf8');
  const script = readFileSync(fromRoot('templates/embed/dashboard.js'), 'utf8');
  const chartJs = readFileSync(fromRoot('node_modules/chart.js/dist/chart.umd.min.js'), 'utf8');
  router.get('/dashboard', (_req, res) => {
    res.type('html').set('Cache-Control', 'no-store').send(page);
  });
  router.get('/dashboard/app.js', (_req, res) => {
    res.type('application/javascript').send(script);
  });
  router.get('/dashboard/chart.js', (_req, res) => {
    res.type('application/javascript').set('Cache-Control', 'public, max-age=86400').send(chartJs);
  });
  return router;
}
