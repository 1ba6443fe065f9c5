import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvSyntaxError, countRecords, MAX_LINE_BYTES } from '../../src/imports/csv-reader.js';
import { importMembersFile } from '../../src/imports/import.service.js';
import { importSubscribersFile } from '../../src/imports/subscribers.import.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { importDeps, snapshot } from './import-support.js';

// Only a well-formed file is imported: UTF-8 text with lines of a sane length. Anything else is
// refused whole, naming the line (or the encoding), before a single row is written.

const dir = mkdtempSync(path.join(os.tmpdir(), 'well-formed-'));
let n = 0;
const fileWith = (content: string | Buffer) => {
  const file = path.join(dir, `f${++n}.csv`);
  writeFileSync(file, content);
  return file;
};
const GOOD_ROWS = 'email,name,joined_at\nann@example.org,Ann,2019-01-01\nbo@example.org,Bo,2019-02-01\n';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every collection's documents, to show an import changed nothing. */
async function everything() {
  const names = (await app.deps.db.db!.listCollections().toArray()).map((c) => c.name).sort();
  return snapshot(app.deps.db, names);
}

describe('files that are not well formed', () => {
  it('when a members file has a 50 MB line after good rows, then it is refused naming the line and the database is unchanged', async () => {
    const file = fileWith(`${GOOD_ROWS}carl@example.org,${'x'.repeat(50 * 1024 * 1024)},2019-03-01\n`);
    const before = await everything();
    const started = Date.now();
    // Batches of one: the good rows before the long line would be written if it were met late.
    const refusal = importMembersFile(importDeps(app.deps.db, app.deps.clock), file, { batchSize: 1 });
    await expect(refusal).rejects.toThrow(CsvSyntaxError);
    await expect(refusal).rejects.toThrow(/^line 4: longer than 1 MB/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await everything()).toEqual(before);
  });

  it('when a line never ends, then the reader stops at the limit instead of holding the line', async () => {
    let read = 0;
    const endless = Readable.from(
      (function* () {
        yield Buffer.from('email,name\nann@example.org,');
        for (;;) {
          read += 1 << 16;
          yield Buffer.alloc(1 << 16, 'x');
        }
      })(),
    );
    await expect(countRecords(endless)).rejects.toThrow(/^line 2: longer than 1 MB/);
    // What was read: the limit, and the few chunks the streams buffer ahead.
    expect(read).toBeLessThan(MAX_LINE_BYTES + 20 * (1 << 16));
  });

  it('when a subscribers file is UTF-16 (with or without its byte order mark), then it is refused as UTF-16 and the database is unchanged', async () => {
    const text =
      'Email Address,First Name,Last Name,OPTIN_TIME\nann@example.org,Ann,Lee,2020-01-01 10:00:00\n';
    const withBom = fileWith(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const withoutBom = fileWith(Buffer.from(text, 'utf16le'));
    const before = await everything();
    for (const file of [withBom, withoutBom]) {
      await expect(
        importSubscribersFile(importDeps(app.deps.db, app.deps.clock), file, 'editors-picks'),
      ).rejects.toThrow('this file is UTF-16; save it as UTF-8 and import it again (nothing was imported)');
    }
    await expect(importMembersFile(importDeps(app.deps.db, app.deps.clock), withBom)).rejects.toThrow(
      /^this file is UTF-16; save it as UTF-8/,
    );
    expect(await everything()).toEqual(before);
  });

  it('when a file holds binary data or bytes that are not UTF-8, then it is refused naming the line', async () => {
    const binary = fileWith(
      Buffer.concat([Buffer.from(GOOD_ROWS), Buffer.from([0x50, 0x4b, 0x03, 0x00, 0x14])]),
    );
    await expect(countRecords(binary)).rejects.toThrow(/^line 4: binary data/);
    const latin1 = fileWith(
      Buffer.concat([Buffer.from(GOOD_ROWS), Buffer.from('zoe@example.org,Zo\xeb,2019-01-01\n', 'latin1')]),
    );
    await expect(countRecords(latin1)).rejects.toThrow(/^line 4: not UTF-8 text/);
    const before = await everything();
    await expect(importMembersFile(importDeps(app.deps.db, app.deps.clock), latin1)).rejects.toThrow(
      CsvSyntaxError,
    );
    expect(await everything()).toEqual(before);
  });

  it('when a file is UTF-8 with a byte order mark and long but legal lines, then it is read', async () => {
    const file = fileWith(
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(
          `email,name\nann@example.org,${'Ä'.repeat(MAX_LINE_BYTES / 2 - 20)}\nbo@example.org,Bö\n`,
        ),
      ]),
    );
    expect(await countRecords(file)).toBe(2);
  });
});
