import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../../src/infra/paths.js';

// The docs a newcomer reads: the README, docs/, and the README beside each capability. A clone has
// nothing outside the repository, so every link must resolve inside it; figures are rendered from
// bench/results, never typed (docs/benchmarks.md says how).

const README_LIMIT_BYTES = 15 * 1024;

function markdownFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string, keep: (name: string) => boolean) => {
    if (!existsSync(fromRoot(dir))) return;
    for (const entry of readdirSync(fromRoot(dir), { withFileTypes: true })) {
      const relative = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative, keep);
      else if (keep(entry.name)) found.push(relative);
    }
  };
  walk('docs', (name) => name.endsWith('.md'));
  walk('src', (name) => name === 'README.md');
  walk('webhooks', (name) => name === 'README.md');
  return ['README.md', ...found.sort()];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

interface Link {
  file: string;
  line: number;
  target: string;
  inReferences: boolean;
}

/** Every link in a markdown file (inline, autolink, reference definition), outside code. */
function readMarkdown(file: string): { links: Link[]; anchors: Set<string> } {
  const links: Link[] = [];
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const headings: { level: number; text: string }[] = [];
  let fenced = false;
  readFileSync(fromRoot(file), 'utf8')
    .split('\n')
    .forEach((raw, index) => {
      if (/^\s*(```|~~~)/.test(raw)) {
        fenced = !fenced;
        return;
      }
      if (fenced) return;
      const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(raw);
      if (heading) {
        const level = heading[1]!.length;
        while (headings.length && headings.at(-1)!.level >= level) headings.pop();
        headings.push({ level, text: heading[2]! });
        const base = slug(heading[2]!);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        anchors.add(n === 0 ? base : `${base}-${n}`);
      }
      const line = raw.replace(/`[^`]*`/g, '');
      const inReferences = headings.some((h) => h.text.trim().toLowerCase() === 'references');
      const add = (target: string) => links.push({ file, line: index + 1, target, inReferences });
      for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) add(m[1]!);
      for (const m of line.matchAll(/<((?:https?|ftp|mailto):[^>\s]+)>/g)) add(m[1]!);
      const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
      if (definition) add(definition[1]!);
    });
  return { links, anchors };
}

describe('documentation', () => {
  it('when the README is read, then it is a landing page of at most 15 KB that keeps the test command', () => {
    const readme = readFileSync(fromRoot('README.md'));
    expect(readme.length).toBeLessThanOrEqual(README_LIMIT_BYTES);
    expect(readme.toString()).toContain('npm ci && npm run dev');
    expect(readme.toString()).toContain('npm test');
  });

  it('when every markdown link is followed, then it stays in the repository and reaches a file that exists', () => {
    const files = markdownFiles();
    const parsed = new Map(files.map((file) => [file, readMarkdown(file)]));
    const problems: string[] = [];
    for (const [file, { links }] of parsed) {
      for (const link of links) {
        const where = `${link.file}:${link.line} → ${link.target}`;
        if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) {
          if (!/^https?:\/\//i.test(link.target)) problems.push(`${where}: not a web or relative link`);
          else if (!link.inReferences) problems.push(`${where}: web links belong in a "References" list`);
          continue;
        }
        const [pathPart, anchor] = link.target.split('#') as [string, string | undefined];
        if (pathPart.startsWith('/')) {
          problems.push(`${where}: absolute path (use a path relative to the file)`);
          continue;
        }
        const resolved = pathPart
          ? path.resolve(path.dirname(fromRoot(file)), decodeURI(pathPart))
          : fromRoot(file);
        const inside = path.relative(fromRoot(), resolved);
        if (inside.startsWith('..') || path.isAbsolute(inside)) {
          problems.push(`${where}: leaves the repository`);
          continue;
        }
        // Screenshots are written by the browser tests (npm test), not committed: docs/screens.md.
        if (!existsSync(resolved) && !inside.startsWith(`test-results${path.sep}screenshots${path.sep}`)) {
          problems.push(`${where}: no such file`);
          continue;
        }
        if (anchor && statSync(resolved).isFile() && resolved.endsWith('.md')) {
          const target = parsed.get(inside) ?? readMarkdown(inside);
          if (!target.anchors.has(anchor)) problems.push(`${where}: no heading with that anchor`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(files.length).toBeGreaterThan(20);
  });

  it('when bench/results are rendered, then docs/benchmarks.md is exactly what the renderer writes', async () => {
    const renderer = pathToFileURL(fromRoot('scripts/render-benchmarks.mjs')).href;
    const { renderBenchmarksDoc } = (await import(renderer)) as {
      renderBenchmarksDoc(root: string, doc: string): string;
    };
    const doc = readFileSync(fromRoot('docs/benchmarks.md'), 'utf8');
    // A stale page: run `node scripts/render-benchmarks.mjs` (npm run bench does it after each run).
    expect(doc).toBe(renderBenchmarksDoc(fromRoot(), doc));
  });

  it('when a result carries notes (a scaled-down run), then they are rendered above its figures', async () => {
    const renderer = pathToFileURL(fromRoot('scripts/render-benchmarks.mjs')).href;
    const { renderSection } = (await import(renderer)) as { renderSection(root: string): string };
    const root = mkdtempSync(path.join(os.tmpdir(), 'render-benchmarks-'));
    try {
      mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
      writeFileSync(path.join(root, 'bench', 'small.bench.ts'), '');
      writeFileSync(
        path.join(root, 'bench', 'results', 'small.json'),
        JSON.stringify({
          name: 'small',
          date: '2026-12-08T00:00:00Z',
          machine: { cpus: 2, cpuModel: 'Test CPU', memoryGiB: 8, platform: 'linux x64', node: 'v20' },
          notes: ['Run at scale 0.01: not a national newsroom.'],
          rows: [{ figure: 'members', value: 1000 }],
        }),
      );
      const section = renderSection(root);
      const note = section.indexOf('Run at scale 0.01: not a national newsroom.');
      expect(note).toBeGreaterThan(section.indexOf('### small'));
      expect(note).toBeLessThan(section.indexOf('| figure | value |'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
