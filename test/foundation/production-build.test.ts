import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../../src/infra/embedded-db.js';
import { fromRoot } from '../../src/infra/paths.js';
import { databaseUri } from '../support/test-app.js';

// The production path, as the Dockerfile takes it: compile, drop the devDependencies, keep only
// the runtime files the Dockerfile copies, then `npm start` answers /readyz and a CLI runs, with
// no tsx and no TypeScript installed. The installed node_modules is reused (hard links, so it is
// quick and needs no network) and pruned offline in the copy.

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'production-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The paths the runtime stage (after the last FROM) copies, relative to the app folder. */
function runtimeFiles(dockerfile: string): string[] {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  return [...runtime.matchAll(/^COPY\s+(?:--from=\w+\s+)?(.+)$/gm)].flatMap((m) => {
    const parts = m[1]!.trim().split(/\s+/);
    return parts.slice(0, -1).map((source) => source.replace(/^\/app\//, ''));
  });
}

/** Every file and folder of the assembled tree that the Dockerfile names (top level, and scripts/*). */
function assembled(root: string): string[] {
  return readdirSync(root).flatMap((name) =>
    name === 'scripts' ? readdirSync(path.join(root, name)).map((f) => `scripts/${f}`) : [name],
  );
}

function productionEnv(port: number): Record<string, string> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    // Without the checkout's node_modules/.bin (vitest puts it on PATH): no tsx to fall back on.
    PATH: (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((dir) => !dir.includes('node_modules'))
      .join(path.delimiter),
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    PUBLIC_BASE_URL: 'https://members.newsroom.example',
    MONGODB_URI: databaseUri(`prod_${randomBytes(6).toString('hex')}`),
    SESSION_SECRET: randomBytes(32).toString('hex'),
    STAFF_JWT_KEYS: `k1:${randomBytes(32).toString('hex')}`,
    DRIVE_SIGNING_KEYS: `drive-1:${randomBytes(32).toString('base64url')}`,
    STRIPE_SECRET_KEY: 'sk_live_productionbuildtest',
    STRIPE_WEBHOOK_SECRET: 'whsec_productionbuildtest',
    SENDGRID_API_KEY: 'SG.productionbuildtest',
    SENDGRID_WEBHOOK_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    // Nothing is sent: no worker in the web process.
    EMAIL_WORKER: 'off',
  };
}

/** The installed packages, pruned of devDependencies, and the other files the Dockerfile copies. */
async function assembleRuntime(files: string[]): Promise<void> {
  // The installed packages as hard links (quick, no network); npm rewrites its lock in place, so
  // that one file is a real copy and the checkout's own stays untouched.
  // (A temporary folder on another filesystem cannot hold hard links: then a plain copy.) It stays
  // outside the checkout, so nothing the prune removed can be found in a parent's node_modules.
  await run('cp', ['-al', fromRoot('node_modules'), path.join(tmp, 'node_modules')]).catch(async () => {
    rmSync(path.join(tmp, 'node_modules'), { recursive: true, force: true });
    await run('cp', ['-a', fromRoot('node_modules'), path.join(tmp, 'node_modules')]);
  });
  rmSync(path.join(tmp, 'node_modules/.package-lock.json'));
  cpSync(fromRoot('node_modules/.package-lock.json'), path.join(tmp, 'node_modules/.package-lock.json'));
  for (const file of files.filter((f) => f !== 'dist' && f !== 'node_modules')) {
    mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
    cpSync(fromRoot(file), path.join(tmp, file), { recursive: true });
  }
  await run('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: tmp });
}

it('when the build is pruned of devDependencies and holds only what the Dockerfile copies, then npm start answers /readyz and a CLI runs from dist', async () => {
  const files = runtimeFiles(readFileSync(fromRoot('Dockerfile'), 'utf8'));
  expect(files.sort()).toEqual(
    [
      'bin',
      'dist',
      'node_modules',
      'package-lock.json',
      'package.json',
      'scripts/run.mjs',
      'templates',
    ].sort(),
  );

  // Build stage: compile as `npm run build` does, into the copy rather than the checkout's dist.
  // --noCheck skips type checking (CI's `npm run typecheck` does it) and emits the same files
  // (isolatedModules: emit never depends on types; compared byte for byte) in a third of the time.
  const compile = run(process.execPath, [
    fromRoot('node_modules/typescript/bin/tsc'),
    '-p',
    fromRoot('tsconfig.build.json'),
    '--outDir',
    path.join(tmp, 'dist'),
    '--noCheck',
  ]);
  // Meanwhile (neither reads what the other writes) the runtime packages and files, as the
  // Dockerfile's runtime stage has them.
  await Promise.all([compile, assembleRuntime(files)]);

  expect(assembled(tmp).sort()).toEqual(files.sort());
  for (const dev of ['tsx', 'typescript', 'vitest', 'playwright-core'])
    expect({ dev, installed: existsSync(path.join(tmp, 'node_modules', dev)) }).toEqual({
      dev,
      installed: false,
    });
  expect(existsSync(path.join(tmp, 'dist/src/server.js.map'))).toBe(true);
  expect(existsSync(fromRoot('node_modules/tsx'))).toBe(true); // the checkout keeps its own

  const port = await freePort();
  const env = productionEnv(port);
  const server = spawn('npm', ['start'], {
    cwd: tmp,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (chunk) => {
    output += chunk;
  });
  server.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
  try {
    const deadline = Date.now() + 30_000;
    while (!output.includes('"listening"')) {
      if (server.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm start did not listen:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output).toContain('--enable-source-maps dist/src/server.js');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    // Production has no development home page.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);

    const cli = await run('npm', ['run', '--silent', 'campaigns:rebuild'], { cwd: tmp, env });
    expect(cli.stdout.trim()).toBe('No campaigns.');
  } finally {
    if (server.exitCode === null) process.kill(-server.pid!, 'SIGTERM');
    await exited;
  }
}, 120_000);
