// Writes docs/configuration.md and .env.example from the config schema (src/config/schema.ts).
// Run after changing a setting: `npm run docs:config`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderConfigurationDoc, renderEnvExample } from '../src/config/render.js';
import { fromRoot } from '../src/infra/paths.js';

mkdirSync(fromRoot('docs'), { recursive: true });
writeFileSync(fromRoot('docs/configuration.md'), renderConfigurationDoc());
writeFileSync(fromRoot('.env.example'), renderEnvExample());
console.log('wrote docs/configuration.md and .env.example');
