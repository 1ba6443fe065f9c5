#!/usr/bin/env node
// Runs one of our entry points by its source path: `node scripts/run.mjs src/worker.ts [args…]`.
//
// A development checkout has tsx (a devDependency): the TypeScript source runs, so no build is
// needed and a stale build never runs. A production install (`npm ci && npm run build && npm prune
// --omit=dev`, or the container image) has no tsx: the compiled file under dist/ runs, with source
// maps, so stack traces name the .ts lines. Plain JavaScript, so it needs nothing installed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry?.endsWith('.ts')) {
  console.error('Usage: node scripts/run.mjs src/<entry>.ts [arguments]');
  process.exit(2);
}

const hasTsx = (() => {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
})();

let file;
if (hasTsx && existsSync(path.join(root, entry))) {
  const { register } = await import('tsx/esm/api');
  register();
  file = path.join(root, entry);
} else {
  file = path.join(root, 'dist', entry.replace(/\.ts$/, '.js'));
  if (!existsSync(file)) {
    console.error(`${path.relative(root, file)} is missing: run \`npm run build\` first.`);
    process.exit(1);
  }
  process.setSourceMapsEnabled(true);
}
// The entry point reads its own arguments from process.argv as if started directly.
process.argv = [process.argv[0], file, ...args];
await import(pathToFileURL(file).href);
