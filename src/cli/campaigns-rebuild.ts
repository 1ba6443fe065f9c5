import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { rebuildCampaignCounts } from '../campaigns/rebuild.js';
import { createLogger } from '../infra/logger.js';

// `npm run campaigns:rebuild`: recompute every campaign's count from members and the ledger and
// report differences from the stored records and from the live count (exit 1 if any).

const config = readConfigOrExit();
const database = await openDatabase(config, createLogger({ level: 'warn' }));
try {
  const reports = await rebuildCampaignCounts(database.db);
  let differences = 0;
  for (const r of reports) {
    const issues = [
      ...r.missing.map((x) => `missing ${x}`),
      ...r.extra.map((x) => `extra ${x}`),
      ...r.wronglyRevoked.map((x) => `wrongly revoked ${x}`),
      ...r.notRevoked.map((x) => `not revoked ${x}`),
    ];
    if (r.live !== r.stored) issues.push(`live count ${r.live} differs from the ${r.stored} stored records`);
    differences += issues.length + (r.stored === r.recomputed ? 0 : 1);
    console.log(
      `${r.slug}: live ${r.live}, stored ${r.stored}, recomputed ${r.recomputed}${issues.length ? '' : ' (agrees)'}`,
    );
    for (const issue of issues) console.log(`  ${issue}`);
  }
  if (reports.length === 0) console.log('No campaigns.');
  process.exitCode = differences === 0 ? 0 : 1;
} finally {
  await database.close();
}
