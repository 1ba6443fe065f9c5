// The architecture check (`npm run check:architecture`, run by `npm run lint` and so by CI).
// docs/architecture.md explains the layers; this file enforces them:
// - no import cycle between files;
// - each folder imports only folders below it in LAYERS, so no two folders can loop either.
// Type-only imports count too: a cycle of types is still a cycle a reader must untangle.

/** Bottom to top. A folder may import itself and anything listed before it, never after it. */
const LAYERS = [
  'src/shared',
  'src/config',
  'src/infra',
  'src/http',
  'src/email',
  'src/staff',
  'src/ledger',
  'src/memberships',
  'src/campaigns',
  'src/attribution',
  'src/accounts',
  'src/gifts',
  'src/sponsorship',
  'src/newsletters',
  'src/imports',
  'src/reports',
  'src/retention',
  'src/integrations',
  'src/dev',
  'src/console',
  'webhooks',
  'src/[^/]+\\.ts$', // the composition root: app, server, worker, background, capabilities, models
  'src/cli',
];

const folder = (layer) => (layer.endsWith('$') ? `^${layer}` : `^${layer}/`);

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer:${layer.replace(/[\\[\]^$+]/g, '')}`,
  comment: `${layer} may only import what is below it in LAYERS (docs/architecture.md).`,
  severity: 'error',
  from: { path: folder(layer) },
  to: { path: LAYERS.slice(i + 1).map(folder) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Files must not import each other in a loop (docs/architecture.md).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|webhooks)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mts', '.mjs'] },
  },
};

// For test/foundation/architecture.test.ts (not enumerable: the configuration's schema allows no extra keys).
Object.defineProperty(module.exports, 'LAYERS', { value: LAYERS, enumerable: false });
