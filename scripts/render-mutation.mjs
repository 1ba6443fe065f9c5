#!/usr/bin/env node
// Renders docs/mutation.md from the compact results in docs/mutation/*.json, which
// `npm run mutation -- <capability>` writes from Stryker's report. Numbers are never typed.
//   node scripts/render-mutation.mjs [reports/mutation/<capability>.json …]
// With report files, first condenses each into docs/mutation/<capability>.json.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'docs/mutation');
mkdirSync(dir, { recursive: true });

const readKeyed = (file) =>
  existsSync(path.join(dir, file)) ? JSON.parse(readFileSync(path.join(dir, file), 'utf8')) : {};
/** Why a surviving mutant is acceptable, by `file:line:mutator`; anything else is "not reviewed". */
const reasons = readKeyed('reasons.json');
/** Survivors a test written after the run kills (the test's name), by the same key, until a run shows it. */
const killedSince = readKeyed('killed-since.json');
const KEYED = ['reasons.json', 'killed-since.json'];

for (const report of process.argv.slice(2)) {
  const name = path.basename(report, '.json');
  const { files } = JSON.parse(readFileSync(report, 'utf8'));
  const counts = {};
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(files)) {
    for (const m of mutants) {
      counts[m.status] = (counts[m.status] ?? 0) + 1;
      if (m.status === 'Survived' || m.status === 'NoCoverage')
        survivors.push({
          file: path.relative(root, path.resolve(root, file)),
          line: m.location.start.line,
          mutator: m.mutatorName,
          replacement: m.replacement ?? '',
          status: m.status,
        });
    }
  }
  writeFileSync(
    path.join(dir, `${name}.json`),
    // The run's date is the report's (a re-render later, e.g. for new reasons, keeps it).
    `${JSON.stringify({ capability: name, date: statSync(report).mtime.toISOString().slice(0, 10), counts, survivors }, null, 2)}\n`,
  );
}

const rows = [];
const lists = [];
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.json') && !KEYED.includes(f))
  .sort()) {
  const r = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  const c = (k) => r.counts[k] ?? 0;
  const detected = c('Killed') + c('Timeout');
  const valid = detected + c('Survived') + c('NoCoverage');
  const score = valid ? ((detected / valid) * 100).toFixed(1) : '—';
  rows.push(
    `| ${r.capability} | ${r.date} | ${valid} | ${c('Killed')} | ${c('Timeout')} | ${c('Survived')} | ${c('NoCoverage')} | ${score} % |`,
  );
  lists.push(`### ${r.capability}\n`);
  if (r.survivors.length === 0) lists.push('No survivors.\n');
  else {
    lists.push('| Where | Mutant | Status | Reason |\n| --- | --- | --- | --- |');
    for (const s of r.survivors) {
      const key = `${s.file}:${s.line}:${s.mutator}`;
      const replacement = s.replacement.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 60);
      lists.push(
        `| \`${s.file}:${s.line}\` | ${s.mutator} \`${replacement}\` | ${s.status} | ${reasons[key] ?? (killedSince[key] ? `killed since the run by ${killedSince[key]}` : 'not yet reviewed')} |`,
      );
    }
    lists.push('');
  }
}
const body = `<!-- mutation:begin -->
| Capability | Run | Mutants | Killed | Timed out | Survived | No coverage | Score |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

${lists.join('\n')}
<!-- mutation:end -->`;
const page = path.join(root, 'docs/mutation.md');
const text = readFileSync(page, 'utf8');
writeFileSync(page, text.replace(/<!-- mutation:begin -->[\s\S]*<!-- mutation:end -->/, body));
