import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CsvSyntaxError, countRecords, readCsv } from '../../src/imports/csv-reader.js';
import { deep } from '../support/depth.js';

// The importer's CSV reader: whatever a well-formed file holds comes back field for field, and a
// malformed one never loses rows without saying so.

const dir = mkdtempSync(path.join(os.tmpdir(), 'csv-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fileWith = (text: string) => {
  const file = path.join(dir, `f${++n}.csv`);
  writeFileSync(file, text);
  return file;
};
const rowsOf = async (file: string) => {
  const rows: Record<string, string>[] = [];
  for await (const { values } of readCsv(file)) rows.push(values);
  return rows;
};

describe('well-formed files', () => {
  it('when any fields (quotes, commas, line breaks, unicode) are written as RFC 4180 says, then they are read back exactly', async () => {
    const cell = fc.string({
      unit: fc.constantFrom('a', 'Я', '"', ',', '\n', '\r\n', ' ', '=', '😀'),
      maxLength: 12,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(cell, cell), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (rows, crlf) => {
          // A row of empty fields reads as a blank line, which the reader skips: give each a value.
          const written = rows.map(([a, b]) => [`x${a}`, b]);
          const file = fileWith(
            stringify([['email', 'name'], ...written], {
              record_delimiter: crlf ? '\r\n' : '\n',
              quoted_match: /[\r\n]/,
            }),
          );
          expect(await rowsOf(file)).toEqual(written.map(([email, name]) => ({ email, name })));
          expect(await countRecords(file)).toBe(written.length);
        },
      ),
      { seed: 20261206, numRuns: deep(200) },
    );
  });
});

describe('malformed files', () => {
  it('when a quote stands inside an unquoted field, then it is a character, and every row after it is still read', async () => {
    const file = fileWith(
      'email,name,joined_at\nr1@example.com,Ann,2019-01-01\nr2@example.com,Dwayne "The Rock,2019-01-01\nr3@example.com,Bo,2019-01-01\nr4@example.com,Cy "C" D,2019-01-01\n',
    );
    const rows = await rowsOf(file);
    expect(rows.map((r) => r.email)).toEqual([
      'r1@example.com',
      'r2@example.com',
      'r3@example.com',
      'r4@example.com',
    ]);
    expect(rows[1]!.name).toBe('Dwayne "The Rock');
    expect(rows[3]!.name).toBe('Cy "C" D');
  });

  it('when a quoted field is never closed, then the file is refused naming the line, before a row is imported', async () => {
    const file = fileWith(
      'email,name\nr1@example.com,Ann\nr2@example.com,"Never closed\nr3@example.com,Bo\n',
    );
    await expect(countRecords(file)).rejects.toThrow(CsvSyntaxError);
    await expect(countRecords(file)).rejects.toThrow(/^line 3: a quoted field is never closed/);
  });
});
