import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../../src/infra/paths.js';

// The floor plan is written three times for three readers: the order the architecture check
// enforces (.dependency-cruiser.cjs), the table in docs/architecture.md and the map in the README.
// When they disagree, the docs describe a house that is not there.

const { LAYERS } = createRequire(import.meta.url)(fromRoot('.dependency-cruiser.cjs')) as {
  LAYERS: string[];
};
const enforced = LAYERS.map((layer) => (layer.endsWith('$') ? 'src/*.ts' : layer));

/** The folder named in the second column of each row of the first table holding `| Layer |`. */
function foldersOf(markdown: string): string[] {
  const table = markdown.slice(markdown.indexOf('| Layer |')).split('\n\n')[0]!;
  return table
    .split('\n')
    .slice(2)
    .map((row) => /`([^`]+)`/.exec(row.split('|')[2] ?? '')?.[1] ?? '')
    .map((folder) => folder.replace(/\/$/, ''));
}

describe('the floor plan', () => {
  it('when the docs list the folders, then they list them in the order the architecture check enforces', () => {
    expect(foldersOf(readFileSync(fromRoot('docs/architecture.md'), 'utf8'))).toEqual(enforced);
    expect(foldersOf(readFileSync(fromRoot('README.md'), 'utf8'))).toEqual(enforced);
  });
});
