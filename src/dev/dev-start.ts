import type { Connection } from 'mongoose';
import type { Config } from '../config/config.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { DEMO_ADMIN_EMAIL, seedDemoDrive } from './demo-seed.js';

// What `npm run dev` adds to a development start: the demo drive (seeded once; the script passes
// --demo, `npm run dev -- --no-demo` or DEMO_DRIVE=false skip it) and log lines that lead a
// newcomer to the home page and /demo.

/** The last of --demo / --no-demo wins, so `npm run dev -- --no-demo` overrides the script's --demo. */
export const demoAsked = (argv: string[]) => argv.lastIndexOf('--demo') > argv.lastIndexOf('--no-demo');

export async function startDevelopment(
  config: Config,
  deps: { db: Connection; clock: Clock; logger: Logger },
  argv: string[] = process.argv,
): Promise<{ announce(): void }> {
  const seeded =
    config.demoDrive && demoAsked(argv)
      ? await seedDemoDrive({ ...deps, timeZone: config.timeZone })
      : undefined;
  const base = config.http.publicBaseUrl;
  return {
    announce() {
      if (seeded) {
        // A development-only account on a local database, shown once so the console can be tried.
        deps.logger.info(
          `demo drive seeded: console ${base}/console, sign in as ${DEMO_ADMIN_EMAIL} with password ${seeded.password}`,
        );
      }
      deps.logger.info(`development home page: ${base}/ · the demo drive: ${base}/demo`);
    },
  };
}
