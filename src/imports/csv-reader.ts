import { createReadStream } from 'node:fs';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';

// Reads a CSV file as it streams, so a 30,000-row export is never held in memory at once.
// csv-parse reads RFC 4180: quoted fields with commas, doubled quotes and line breaks; CRLF or
// LF; a UTF-8 BOM. Exports from Ghost, Mailchimp and listmonk are all this dialect.
// Anything else is refused whole with the line where it went wrong (see README, "Well-formed
// files"): another encoding, binary data, or a line too long to be a row, read only up to the limit.

/**
 * The longest line (and the longest row, whose quoted fields may span lines) a file may have. A
 * Ghost row with a long note is a few kilobytes; a longer line is a damaged or wrong file, and the
 * reader stops at this many bytes rather than hold the line in memory.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

export interface CsvRecord {
  /** The record's line number in the file (the header is line 1), for the rejected-rows report. */
  line: number;
  values: Record<string, string>;
}

/** A file path, or (tests) a stream of the file's bytes. */
export type CsvSource = string | Readable;

/** Every record of the file after the header, keyed by the header's (trimmed) names. */
export async function* readCsv(file: CsvSource): AsyncGenerator<CsvRecord> {
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
export async function readHeader(file: CsvSource): Promise<string[]> {
  for await (const { fields } of csvFields(file)) return fields.map((name) => name.trim());
  return [];
}

/** How many records follow the header (for the progress bar): one quick pass over the file. */
export async function countRecords(file: CsvSource): Promise<number> {
  let count = -1;
  for await (const { fields } of csvFields(file)) if (!isBlank(fields)) count++;
  return Math.max(count, 0);
}

/** A file no reader can take apart for certain: it is refused whole, before anything is imported. */
export class CsvSyntaxError extends Error {}

const isBlank = (fields: string[]) => fields.length === 1 && fields[0] === '';

async function* csvFields(file: CsvSource): AsyncGenerator<{ line: number; fields: string[] }> {
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
    // A row whose quote never closes would otherwise be held until the end of the file.
    max_record_size: MAX_LINE_BYTES,
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
  const source = typeof file === 'string' ? createReadStream(file, { highWaterMark: 1 << 16 }) : file;
  pipeline(source, new WellFormedText(), parser, () => {});
  try {
    for await (const { record } of parser as AsyncIterable<{ record: string[] }>)
      yield { line: starts.shift()!, fields: record };
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    if (error.code === 'CSV_QUOTE_NOT_CLOSED')
      throw new CsvSyntaxError(
        `line ${nextLine}: a quoted field is never closed, so the rows after it cannot be told apart; fix the quote and import again (nothing was imported)`,
      );
    if (error.code === 'CSV_MAX_RECORD_SIZE')
      throw new CsvSyntaxError(
        `line ${nextLine}: a row runs over ${MAX_LINE_BYTES / 1024 / 1024} MB (a quote never closed, or not a CSV file); fix the file and import again (nothing was imported)`,
      );
    throw new CsvSyntaxError(`line ${nextLine}: ${error.message} (nothing was imported)`);
  }
}

const refused = (what: string) => new CsvSyntaxError(`${what} (nothing was imported)`);

/** What the first bytes of a file say it is, when that is not UTF-8 text. */
function foreignEncoding(head: Buffer): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0xff, 0xfe, 0, 0) || starts(0, 0, 0xfe, 0xff)) return 'UTF-32';
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff)) return 'UTF-16';
  // Without a byte order mark, UTF-16 text of Latin letters has a NUL byte beside every character.
  const sample = head.subarray(0, 4096 - (Math.min(head.length, 4096) % 2));
  if (sample.length >= 4) {
    let even = 0;
    let odd = 0;
    for (let i = 0; i < sample.length; i++) if (sample[i] === 0) i % 2 === 0 ? even++ : odd++;
    if (odd >= sample.length / 4 && even === 0) return 'UTF-16';
    if (even >= sample.length / 4 && odd === 0) return 'UTF-16';
  }
  return undefined;
}

/** The length of the longest prefix of `bytes` that is UTF-8 (a sequence cut at the end counts). */
function validPrefix(bytes: Buffer): number {
  const valid = (n: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  let [low, high] = [0, bytes.length]; // valid(low), and the answer is below high
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (valid(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

const countLines = (bytes: Buffer, end = bytes.length) => {
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1 && i < end; i = bytes.indexOf(10, i + 1)) lines++;
  return lines;
};

/**
 * Passes the file's bytes on as UTF-8 text, checked as they stream: refuses another encoding
 * (named, from its byte order mark or the NUL bytes of UTF-16), NUL bytes (binary data), bytes that
 * are not UTF-8, and a line longer than MAX_LINE_BYTES, each with its line number, as soon as it
 * is met; nothing of a long line is kept beyond the chunk being read.
 */
class WellFormedText extends Transform {
  private started = false;
  private line = 1;
  private lineBytes = 0;
  private decoder = new TextDecoder('utf-8', { fatal: true });

  constructor() {
    super({ decodeStrings: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const problem = this.check(chunk);
    if (problem) done(problem);
    else done(null, chunk); // the bytes as read: checked, not re-encoded
  }

  private check(chunk: Buffer): CsvSyntaxError | undefined {
    if (!this.started) {
      this.started = true;
      const encoding = foreignEncoding(chunk);
      if (encoding) return refused(`this file is ${encoding}; save it as UTF-8 and import it again`);
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1)
      return refused(
        `line ${this.line + countLines(chunk, nul)}: binary data (a NUL byte), not a CSV text file; export the file as CSV in UTF-8`,
      );
    // Line lengths, in bytes: only the current line's length is kept, never the line.
    let start = 0;
    for (let i = chunk.indexOf(10); ; i = chunk.indexOf(10, start)) {
      const end = i === -1 ? chunk.length : i;
      if (this.lineBytes + end - start > MAX_LINE_BYTES)
        return refused(
          `line ${this.line}: longer than ${MAX_LINE_BYTES / 1024 / 1024} MB, the longest line a file may have; this is not a members or subscribers export`,
        );
      if (i === -1) {
        this.lineBytes += end - start;
        break;
      }
      this.line++;
      this.lineBytes = 0;
      start = i + 1;
    }
    try {
      this.decoder.decode(chunk, { stream: true });
    } catch {
      // Where: the line of the first byte that is not UTF-8 (this chunk; a sequence begun in the
      // previous chunk is counted from this one's start, close enough to find it).
      const at = validPrefix(chunk);
      const line = this.line - countLines(chunk) + countLines(chunk, at);
      return refused(
        `line ${line}: not UTF-8 text (perhaps Windows-1252 or Latin-1, or binary data); save the file as UTF-8 and import it again`,
      );
    }
    return undefined;
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.decode();
      done();
    } catch {
      done(
        refused(`line ${this.line}: the file ends inside a character; save it as UTF-8 and import it again`),
      );
    }
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
