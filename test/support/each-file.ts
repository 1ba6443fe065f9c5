import { afterAll, expect, vi } from 'vitest';
import { releaseHeldDatabases } from './database.js';
import { killSpawnedProcesses } from './server-process.js';
import { closeRunningApps } from './test-app.js';

// Runs around every test file (vitest's setupFiles). The files of one worker share one process and
// its loaded modules (`isolate: false` in vitest.config.ts, see docs/testing.md), so what a file
// leaves running would outlive it, where an isolated file's process exit used to end it: the test
// apps it did not close, the databases it did not give back, the processes it spawned.

// A browser test drives Chromium beside a loaded suite: it gets 60 s a test, the others 30 s. Set for
// every file, since the files of a worker share its configuration.
vi.setConfig({ testTimeout: expect.getState().testPath?.endsWith('.browser.test.ts') ? 60_000 : 30_000 });

const resources = () => {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
};
const before = resources();

afterAll(async () => {
  const left = {
    processes: killSpawnedProcesses(),
    apps: await closeRunningApps(),
    databases: await releaseHeldDatabases(),
  };
  // TEST_LEAKS=1 names what each file left behind (timers, sockets and the above), for tidying up.
  if (process.env.TEST_LEAKS) {
    const now = resources();
    const grown = Object.entries(now).filter(([kind, n]) => n > (before[kind] ?? 0));
    console.error(
      `[left by ${expect.getState().testPath}] ${JSON.stringify({ ...left, grown: Object.fromEntries(grown) })}`,
    );
  }
});
