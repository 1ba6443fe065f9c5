#!/usr/bin/env node
// Renders every bench/results/<name>.json (written by `npm run bench -- <name>`) into the marked
// section of docs/benchmarks.md, so the figures people read are the figures a run printed.
//
//   node scripts/render-benchmarks.mjs           rewrites the section
//   node scripts/render-benchmarks.mjs --check   exits 1 when the section is stale
//
// test/foundation/docs.test.ts fails when docs/benchmarks.md differs from what this renders.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';
const DOC = 'docs/benchmarks.md';

/** Every benchmark there is (bench/<name>.bench.ts) and every one with a result, sorted. */
function benchmarkNames(root, results) {
  const files = readdirSync(path.join(root, 'bench'))
    .filter((file) => file.endsWith('.bench.ts'))
    .map((file) => file.slice(0, -'.bench.ts'.length));
  return [...new Set([...files, ...results.keys()])].sort();
}

function readResults(root) {
  const dir = path.join(root, 'bench', 'results');
  const results = new Map();
  if (!existsSync(dir)) return results;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const result = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    results.set(result.name ?? file.slice(0, -'.json'.length), result);
  }
  return results;
}

const cell = (value) =>
  value === null || value === undefined
    ? ''
    : String(value)
        .replace(/\|/g, '\\|')
        .replace(/\s*\n\s*/g, ' ');

function table(rows) {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const numeric = columns.map((column) => rows.every((row) => typeof (row[column] ?? 0) === 'number'));
  return [
    `| ${columns.join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((column) => cell(row[column])).join(' | ')} |`),
  ].join('\n');
}

function describeRun(result) {
  const m = result.machine ?? {};
  const where = [m.platform, `${m.cpus} CPUs (${m.cpuModel})`, `${m.memoryGiB} GiB`, `Node ${m.node}`]
    .filter((part) => !part.includes('undefined'))
    .join(', ');
  const commit = result.commit ? ` on commit \`${result.commit}\`` : '';
  const database = result.database ? ` Database: ${result.database}.` : '';
  return `Run ${String(result.date).slice(0, 10)}${commit}. Machine: ${where}.${database}`;
}

/** The text between the markers. */
export function renderSection(root) {
  const results = readResults(root);
  const parts = [
    '<!-- Rendered by scripts/render-benchmarks.mjs from bench/results/*.json: do not edit by hand. -->',
  ];
  for (const name of benchmarkNames(root, results)) {
    const result = results.get(name);
    parts.push(`### ${name}`);
    if (!result) parts.push(`Not yet measured on this version; run \`npm run bench -- ${name}\`.`);
    else parts.push(describeRun(result), ...(result.notes ?? []), table(result.rows));
  }
  return `\n${parts.join('\n\n')}\n`;
}

/** `doc` with its marked section replaced by what bench/results renders to. */
export function renderBenchmarksDoc(root, doc) {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${DOC} has no ${BEGIN} … ${END} section`);
  return `${doc.slice(0, begin + BEGIN.length)}${renderSection(root)}${doc.slice(end)}`;
}

/** Rewrites docs/benchmarks.md when its figures are stale; false when there is no such file. */
export function writeBenchmarksDoc(root) {
  const file = path.join(root, DOC);
  if (!existsSync(file)) return false;
  const doc = readFileSync(file, 'utf8');
  const rendered = renderBenchmarksDoc(root, doc);
  if (rendered !== doc) writeFileSync(file, rendered);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  if (process.argv.includes('--check')) {
    const doc = readFileSync(path.join(root, DOC), 'utf8');
    if (renderBenchmarksDoc(root, doc) !== doc) {
      console.error(`${DOC} is stale: run node scripts/render-benchmarks.mjs`);
      process.exit(1);
    }
  } else {
    writeBenchmarksDoc(root);
    console.log(`${DOC} rendered from bench/results`);
  }
}
