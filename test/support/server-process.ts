import { type ChildProcess, spawn } from 'node:child_process';
import { fromRoot } from '../../src/infra/paths.js';

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
}

/** Runs `src/server.ts` as its own process, the way `npm run dev` does, with exactly this environment. */
export function spawnServer(env: Record<string, string>): ServerProcess {
  return spawnScript('src/server.ts', env);
}

/** Runs one of our entry points (server, worker, CLI) as its own process with exactly this environment. */
export function spawnScript(script: string, env: Record<string, string>, args: string[] = []): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', fromRoot(script), ...args], {
    cwd: fromRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
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
