import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RENDER_COMMAND, renderConfigurationDoc, renderEnvExample } from '../../src/config/render.js';
import { fromRoot } from '../../src/infra/paths.js';

const onDisk = (file: string) => {
  try {
    return readFileSync(fromRoot(file), 'utf8');
  } catch {
    return '';
  }
};

describe('configuration docs', () => {
  it.each([
    ['docs/configuration.md', renderConfigurationDoc],
    ['.env.example', renderEnvExample],
  ])('when the config schema changes, then %s is rendered again from it', (file, render) => {
    const stale = onDisk(file) !== render();
    expect(stale, `${file} is stale: run \`${RENDER_COMMAND}\` and commit the result`).toBe(false);
  });
});
