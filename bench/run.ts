import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../src/infra/paths.js';
import { driveLogBenchmark } from './drive-log.bench.js';
import { importBenchmark } from './import.bench.js';
import { nationalBenchmark } from './national.bench.js';
import { newsletterBenchmark } from './newsletter.bench.js';
import { outboxBenchmark } from './outbox.bench.js';
import { progressBenchmark } from './progress.bench.js';
import { scaleBenchmark } from './scale.bench.js';
import { stripeApplyBenchmark } from './stripe-apply.bench.js';
import { stripeWebhookBenchmark } from './stripe-webhook.bench.js';
import { writeResultFile } from './support.js';
import { supportersCsvBenchmark } from './supporters-csv.bench.js';

// `npm run bench` runs every benchmark; `npm run bench -- outbox` runs one. Results are printed,
// written to bench/results/<name>.json and rendered into docs/benchmarks.md (figures there are
// never typed by hand). Ratios compare against a baseline measured in the same run, because
// absolute numbers on shared machines are noise (docs/benchmarks.md).

const BENCHMARKS: Record<string, () => Promise<object>> = {
  'drive-log': driveLogBenchmark,
  import: importBenchmark,
  national: nationalBenchmark,
  newsletter: newsletterBenchmark,
  outbox: outboxBenchmark,
  progress: progressBenchmark,
  scale: scaleBenchmark,
  'stripe-apply': stripeApplyBenchmark,
  'stripe-webhook': stripeWebhookBenchmark,
  'supporters-csv': supportersCsvBenchmark,
};

const selected = process.argv.slice(2);
const unknown = selected.filter((name) => !BENCHMARKS[name]);
if (unknown.length) {
  console.error(`unknown benchmark: ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
for (const name of selected.length ? selected : Object.keys(BENCHMARKS)) {
  console.log(`\n== ${name}`);
  const printed = await BENCHMARKS[name]!();
  console.table(printed);
  console.log(`written to ${path.relative(fromRoot(), writeResultFile(name, printed))}`);
}
const renderer = pathToFileURL(fromRoot('scripts/render-benchmarks.mjs')).href;
const { writeBenchmarksDoc } = (await import(renderer)) as { writeBenchmarksDoc(root: string): boolean };
if (writeBenchmarksDoc(fromRoot())) console.log('docs/benchmarks.md rendered from bench/results');
process.exit(0);
