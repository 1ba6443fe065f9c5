import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';

// Reads a CSV file as it streams, so a 30,000-row export is never held in memory at once.
// csv-parse reads RFC 4180: quoted fields with commas, doubled quotes and line breaks; CRLF or
// LF; a UTF-8 BOM. Exports from Ghost, Mailchimp and listmonk are all this dialect.

export interface CsvRecord {
  /** The record's line number in the file (the header is line 1), for the rejected-rows report. */
  line: number;
  values: Record<string, string>;
}

/** Every record of the file after the header, keyed by the header's (trimmed) names. */
export async function* readCsv(file: string): AsyncGenerator<CsvRecord> {
  let header: string[] | undefined;
  for await (const { line, fields } of csvFields(file)) {
    if (!header) {
      header = fields.map((name) => name.trim());
      continue;
    }
    if (isBlank(fields)) continue;
    const values: Record<string, string> = {};
    header.forEach((name, i) => {
      values[name] = fields[i] ?? '';
    });
    yield { line, values };
  }
}

/** The header row alone (format detection reads only this). */
export async function readHeader(file: string): Promise<string[]> {
  for await (const { fields } of csvFields(file)) return fields.map((name) => name.trim());
  return [];
}

/** How many records follow the header (for the progress bar): one quick pass over the file. */
export async function countRecords(file: string): Promise<number> {
  let count = -1;
  for await (const { fields } of csvFields(file)) if (!isBlank(fields)) count++;
  return Math.max(count, 0);
}

/** A file no reader can take apart for certain: it is refused whole, before anything is imported. */
export class CsvSyntaxError extends Error {}

const isBlank = (fields: string[]) => fields.length === 1 && fields[0] === '';

async function* csvFields(file: string): AsyncGenerator<{ line: number; fields: string[] }> {
  // Where the next record starts: the line after the one the last record ended on (a quoted
  // field may hold line breaks). Kept as the parser goes, ahead of what has been read from it;
  // `starts` holds the start lines of the records parsed and not yet read.
  let nextLine = 1;
  const starts: number[] = [];
  let fieldStart = 0; // where this field begins in its record's raw text
  const parser = parse({
    bom: true,
    // A field that began with something else than a quote: a quote inside it is a character
    // (Dwayne "The Rock" Johnson), as Excel reads it, not the start of a quoted field that would
    // run on, swallowing every row after it.
    relax_quotes: true,
    // A short or long row is read as it is; the importer reports what its row lacks.
    relax_column_count: true,
    // Either line ending, in any mix; a lone CR stays part of its field.
    record_delimiter: ['\r\n', '\n'],
    // Each field's own text, for the one reading csv-parse does differently (closedEarly).
    raw: true,
    cast: (value, { index, quoting, raw = '' }) => {
      if (index === 0) fieldStart = 0;
      const text = raw.slice(fieldStart);
      fieldStart = raw.length;
      return quoting ? closedEarly(value, text) : value;
    },
    on_record: (fields: string[], { lines }) => {
      starts.push(nextLine);
      nextLine = lines + 1;
      return fields;
    },
  });
  // Ends the file stream too when the reader stops early (readHeader) or the parser fails.
  pipeline(createReadStream(file, { highWaterMark: 1 << 16 }), parser, () => {});
  try {
    for await (const { record } of parser as AsyncIterable<{ record: string[] }>)
      yield { line: starts.shift()!, fields: record };
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    if (error.code === 'CSV_QUOTE_NOT_CLOSED')
      throw new CsvSyntaxError(
        `line ${nextLine}: a quoted field is never closed, so the rows after it cannot be told apart; fix the quote and import again (nothing was imported)`,
      );
    throw new CsvSyntaxError(`line ${nextLine}: ${error.message} (nothing was imported)`);
  }
}

/**
 * A quoted field with more after its closing quote (`"yulia, the reader"@example.net`): csv-parse
 * keeps it as typed, quotes and all; we read it as Excel does, the quoted part and then the rest
 * (`yulia, the reader@example.net`). `text` is the field as it stands in the file, with the
 * delimiter after it.
 */
function closedEarly(value: string, text: string): string {
  if (!text.startsWith('"')) return value;
  let close = 1;
  while (close < text.length && (text[close] !== '"' || text[close + 1] === '"'))
    close += text[close] === '"' ? 2 : 1;
  const rest = text.slice(close + 1).replace(/(,|\r?\n?)$/, '');
  if (rest === '') return value;
  return text.slice(1, close).replaceAll('""', '"') + rest;
}
