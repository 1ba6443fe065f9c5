import { campaignModels } from '../src/campaigns/campaign.model.js';
import { benchDatabase, startBenchApp } from './support.js';

const database = await benchDatabase('hdr');
await campaignModels(database.db).Campaign.create({
  slug: 'birthday',
  title: 't',
  goal: 1000,
  startsAt: new Date(Date.now() - 86400000),
  endsAt: new Date(Date.now() + 9 * 86400000),
  timeZone: 'UTC',
  startingOffset: 612,
});
const { url, server } = await startBenchApp(database.db);
await fetch(`${url}/campaigns/birthday/progress`);
const { execSync } = await import('node:child_process');
console.log(execSync(`curl -si ${url}/campaigns/birthday/progress`).toString());
server.close();
await database.close();
process.exit(0);
