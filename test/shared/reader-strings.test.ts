import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { fromRoot } from '../../src/infra/paths.js';
import { LOCALES, MESSAGES } from '../../src/shared/messages.js';

// Reader-facing words live in the message catalogue (src/shared/messages.ts), in every language:
// gift and newsletter code names catalogue keys, never an English sentence of its own.

const FOLDERS = ['src/gifts', 'src/newsletters'];
/** A sentence written where a reader will read it: a page's heading or message, an error's message, a form's rule. */
const READER_SENTENCE = [
  /\b(heading|message):\s*['"`][A-Z][a-z]+ [^'"`]*['"`]/g,
  /new AppError\(\s*'[a-z_]+',\s*['"`][A-Z][^'"`]*['"`]/g,
  /\.(min|max|refine)\([^)]*,\s*['"`][A-Z][a-z]+ [^'"`]*['"`]\)/g,
  /managePage\([^)]*,\s*['"`][A-Z][^'"`]*['"`]\)/g,
];

it('when the gift and newsletter code is read, then no reader-facing sentence is written in it, outside the catalogue', () => {
  const found: string[] = [];
  for (const folder of FOLDERS)
    for (const file of readdirSync(fromRoot(folder)).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(fromRoot(path.join(folder, file)), 'utf8');
      for (const pattern of READER_SENTENCE)
        for (const match of source.matchAll(pattern)) found.push(`${folder}/${file}: ${match[0]}`);
    }
  expect(found).toEqual([]);
});

it('when a gift or newsletter message is in the catalogue, then it is there in every language, not in English twice', () => {
  const keys = Object.keys(MESSAGES.en).filter((k) => /^(gifts|newsletters|error)\./.test(k));
  const untranslated = keys.filter((k) =>
    LOCALES.filter((l) => l !== 'en').some(
      (l) =>
        JSON.stringify(MESSAGES[l][k as keyof typeof MESSAGES.en]) ===
        JSON.stringify(MESSAGES.en[k as keyof typeof MESSAGES.en]),
    ),
  );
  expect(untranslated).toEqual([]);
});
