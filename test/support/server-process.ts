import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';
import { fromRoot } from '../../src/infra/paths.js';
import { FAST_ANSWER_FLOORS } from './answer-floors.js';

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
}

// A test that fails before it stops its process must not leave it running: an orphan keeps its port,
// and once nobody reads its output it cannot even exit (its log writes block on the full pipe).
// test/support/each-file.ts kills what a file left after that file's tests.
const running = new Set<ChildProcess>();

/** Kills every process this test file spawned and did not see exit; returns how many. */
export function killSpawnedProcesses(): number {
  const left = running.size;
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  return left;
}

/** Runs `src/server.ts` as its own process, the way `npm run dev` does, with exactly this environment. */
export function spawnServer(env: Record<string, string>): ServerProcess {
  return spawnScript('src/server.ts', env);
}

/**
 * Runs one of our entry points (server, worker, CLI) as its own process with exactly this environment,
 * plus small answer floors outside production (as the test app has them; `env` may set them back).
 * It runs the program as compiled once for this run (see global-setup.ts), not through tsx.
 */
export function spawnScript(script: string, env: Record<string, string>, args: string[] = []): ServerProcess {
  const floors = env.NODE_ENV === 'production' ? {} : FAST_ANSWER_FLOORS;
  const compiled = path.join(inject('programBuild'), script.replace(/\.ts$/, '.js'));
  const child = spawn(process.execPath, ['--enable-source-maps', compiled, ...args], {
    cwd: fromRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...floors, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    async waitForLog(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (child.exitCode !== null)
          throw new Error(`server exited (${child.exitCode}) before "${text}":\n${output}`);
        if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
