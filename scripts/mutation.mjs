#!/usr/bin/env node
// Mutation testing of one capability's money and count rules with Stryker:
//   npm run mutation -- <capability>       (ledger, memberships, campaigns, drive-log, gifts, sponsorship)
// Stryker changes the capability's code one mutant at a time (a > becomes >=, a + a -, a call
// removed) and runs the tests that cover it; a mutant no test notices is a rule no test guards.
// Results go to reports/mutation/<capability>.json and the score table in docs/mutation.md
// (rendered by scripts/render-mutation.mjs). See docs/testing.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What each capability's mutants are, and which test files judge them. */
export const CAPABILITIES = {
  ledger: {
    mutate: ['src/ledger/**/*.ts'],
    // The ledger's rules show in what the events record and what the reports read back.
    tests: [
      'test/ledger/**/*.test.ts',
      'test/reports/reconciliation.test.ts',
      'test/reports/fees.test.ts',
      'test/reports/payouts.test.ts',
      'test/memberships/webhook.test.ts',
      'test/memberships/refund-failures.test.ts',
      'test/memberships/disputes.test.ts',
      'test/memberships/free-invoices.test.ts',
    ],
  },
  memberships: {
    mutate: [
      'src/memberships/**/*.ts',
      '!src/memberships/**/*.routes.ts',
      '!src/memberships/stripe-setup.ts',
    ],
    tests: ['test/memberships/**/*.test.ts'],
  },
  campaigns: {
    mutate: ['src/campaigns/*.ts', '!src/campaigns/*.routes.ts', '!src/campaigns/progress-svg.ts'],
    tests: ['test/campaigns/**/*.test.ts', '!test/campaigns/**/*.browser.test.ts'],
  },
  'drive-log': {
    mutate: ['src/campaigns/drive-log/**/*.ts', '!src/campaigns/drive-log/*.routes.ts'],
    tests: ['test/transparency/**/*.test.ts', '!test/transparency/**/*.browser.test.ts'],
  },
  gifts: {
    mutate: ['src/gifts/**/*.ts', '!src/gifts/**/*.routes.ts'],
    tests: ['test/gifts/**/*.test.ts'],
  },
  sponsorship: {
    mutate: ['src/sponsorship/**/*.ts', '!src/sponsorship/**/*.routes.ts'],
    tests: ['test/sponsorship/**/*.test.ts'],
  },
};

const name = process.argv[2];
const capability = CAPABILITIES[name];
if (!capability) {
  console.error(`usage: npm run mutation -- <${Object.keys(CAPABILITIES).join('|')}>`);
  process.exit(2);
}
const out = path.join(root, 'reports/mutation');
mkdirSync(out, { recursive: true });
// The suite's own configuration (its global set-up starts FerretDB and stripe-mock), limited to
// this capability's tests. A run is niced on a shared machine, so a test gets more time than in
// the suite (its dry run failed a 30 s dispute test under load); Stryker's own timeout still
// catches a mutant that hangs.
const vitestConfig = path.join(out, `vitest.${name}.config.mjs`);
writeFileSync(
  vitestConfig,
  `import base from '../../vitest.config.ts';
export default { ...base, test: { ...base.test, include: ${JSON.stringify(capability.tests.filter((t) => !t.startsWith('!')))}, exclude: ${JSON.stringify(capability.tests.filter((t) => t.startsWith('!')).map((t) => t.slice(1)))}, testTimeout: 120000, reporters: ['default'] } };
`,
);
const strykerConfig = path.join(out, `stryker.${name}.config.json`);
writeFileSync(
  strykerConfig,
  JSON.stringify(
    {
      testRunner: 'vitest',
      plugins: ['@stryker-mutator/vitest-runner'],
      vitest: { configFile: path.relative(root, vitestConfig), related: false },
      mutate: capability.mutate,
      coverageAnalysis: 'perTest',
      concurrency: 1,
      timeoutMS: 60_000,
      reporters: ['progress', 'clear-text', 'json'],
      jsonReporter: { fileName: `reports/mutation/${name}.json` },
      // A re-run after new tests only tests again the mutants whose code or covering tests
      // changed, so reviewing survivors costs minutes rather than the full run.
      incremental: true,
      incrementalFile: `reports/mutation/${name}.incremental.json`,
      tempDirName: '.stryker-tmp',
      ignorePatterns: ['.data', 'test-results', 'dist', 'bench/results', 'reports/mutation/*.json'],
    },
    null,
    2,
  ),
);
// Anything after the capability goes to Stryker, e.g. `--mutate src/ledger/settlement.service.ts`
// for a narrower run when a full one would take too long (the table then shows fewer mutants).
const run = spawnSync('npx', ['stryker', 'run', strykerConfig, ...process.argv.slice(3)], {
  cwd: root,
  stdio: 'inherit',
});
if (run.status !== 0) process.exit(run.status ?? 1);
const render = spawnSync('node', ['scripts/render-mutation.mjs', `reports/mutation/${name}.json`], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(render.status ?? 1);
