import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fromRoot } from '../../src/infra/paths.js';

// The witness (`npm run witness`, bin/witness.mjs) as the process a readers' association runs:
// its own key and state files in a folder, listening on a free loopback port.

export interface WitnessProcess {
  url: string;
  /** Its cosignature/v1 vkey, as it prints it. */
  vkey: string;
  output(): string;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<number | null>;
}

const started = new Set<ChildProcess>();

/** Kills every witness still running (each test file calls it in afterAll). */
export function killWitnesses(): void {
  for (const child of started) child.kill('SIGKILL');
  started.clear();
}

export const witnessFolder = () => mkdtempSync(path.join(tmpdir(), 'witness-'));

/** Starts the witness with files in `dir`, witnessing the logs of these vkeys; `args` adds flags. */
export async function startWitness(
  dir: string,
  logVkeys: string[],
  args: string[] = [],
): Promise<WitnessProcess> {
  const child = spawn(
    process.execPath,
    [
      fromRoot('bin/witness.mjs'),
      '--name',
      'witness.readers.test/w1',
      '--key',
      path.join(dir, 'witness.key'),
      '--state',
      path.join(dir, 'witness-state.json'),
      '--port',
      '0',
      ...logVkeys.flatMap((vkey) => ['--log', vkey]),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.add(child);
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      started.delete(child);
      resolve(code);
    }),
  );
  const deadline = Date.now() + 10_000;
  const listening = () => /listening on (http:\/\/\S+),/.exec(output);
  while (!listening()) {
    if (child.exitCode !== null) throw new Error(`the witness exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`the witness did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: listening()![1]!,
    vkey: /^witness (\S+)$/m.exec(output)![1]!,
    output: () => output,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Starts the witness and answers its exit code and output (for a start that must fail). */
export async function witnessExit(
  dir: string,
  args: string[],
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [fromRoot('bin/witness.mjs'), '--port', '0', ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  started.delete(child);
  return { code, output };
}

/** Posts an add-checkpoint body: the status, content type and text answered. */
export async function addCheckpoint(
  witness: WitnessProcess,
  body: string,
): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}
