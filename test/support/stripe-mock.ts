import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fromRoot } from '../../src/infra/paths.js';

/**
 * Starts Stripe's stripe-mock on ports the system picks, for HTTP and for HTTPS alike: left alone it
 * also listens for HTTPS on its fixed default port 12112, so a second run on the same machine (or
 * anything else on that port) would fail at start. The HTTP port is read from what it prints.
 */
export async function startStripeMock(): Promise<{ child: ChildProcess; port: number; version: string }> {
  const binary = execFileSync(fromRoot('scripts/install-test-services.sh'), ['stripe-mock'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  const child = spawn(binary, ['-http-addr', '127.0.0.1:', '-https-addr', '127.0.0.1:'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error('stripe-mock did not start within 20 s')), 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill();
      reject(new Error(`${error.message}\n${output}`));
    };
    const read = (chunk: Buffer) => {
      output += chunk;
      const match = /Listening for HTTP at address: [^\s]*:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => fail(new Error(`stripe-mock exited with code ${code}`)));
  });
  // Keep draining its output so a full pipe never blocks it.
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, port, version: path.basename(binary).replace('stripe-mock-', '') };
}
