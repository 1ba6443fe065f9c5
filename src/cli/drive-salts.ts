import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isValidObjectId } from 'mongoose';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { exportSalts } from '../campaigns/drive-log/salts.js';
import { giftModel } from '../gifts/gift.model.js';
import { createLogger } from '../infra/logger.js';
import { runCli } from './cli-support.js';

// `npm run drive:salts -- <slug> --out FILE`: the salts that open a campaign's addition leaves, and
// the Stripe payment behind each, for an auditor (src/campaigns/drive-log/README.md, "The auditor's
// check"). The file links members to leaves: it is written readable by its owner only, never over
// an existing file, and is handed over privately.

const USAGE = 'Usage: npm run drive:salts -- <campaign slug> --out FILE';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' } },
  });
  const [slug] = positionals;
  if (!slug || !values.out || positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const config = readConfigOrExit();
  const database = await openDatabase(config, createLogger({ level: 'warn' }));
  try {
    const exported = await exportSalts(database.db, slug, async (giftId) =>
      isValidObjectId(giftId)
        ? ((await giftModel(database.db).findById(giftId).select({ paymentIntentId: 1 }).lean())
            ?.paymentIntentId ?? undefined)
        : undefined,
    );
    if (!exported) {
      console.error(`No campaign ${slug}.`);
      return 1;
    }
    await writeFile(values.out, `${JSON.stringify(exported, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    const unpaid = exported.entries.filter((e) => e.payment === null).length;
    console.error(
      `${exported.entries.length} additions written to ${values.out}${unpaid ? ` (${unpaid} without a Stripe payment)` : ''}`,
    );
    return 0;
  } finally {
    await database.close();
  }
}

runCli(main);
