import { createReadStream } from 'node:fs';

// Reads a CSV file as it streams (RFC 4180: quoted fields with commas, doubled quotes and line
// breaks; CRLF or LF; a UTF-8 BOM), so a 30,000-row export is never held in memory at once.
// Exports from Ghost, Mailchimp and listmonk are all this dialect.

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
    if (fields.length === 1 && fields[0] === '') continue; // a blank line
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
  for await (const { fields } of csvFields(file)) if (!(fields.length === 1 && fields[0] === '')) count++;
  return Math.max(count, 0);
}

/** A file no reader can take apart for certain: it is refused whole, before anything is imported. */
export class CsvSyntaxError extends Error {}

async function* csvFields(file: string): AsyncGenerator<{ line: number; fields: string[] }> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  // A field that began with something else than a quote: a quote inside it is a character
  // (Dwayne "The Rock" Johnson), as Excel reads it, not the start of a quoted field that would run
  // on, swallowing every row after it.
  let bare = false;
  let line = 1;
  let startLine = 1;
  let first = true;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    let text = chunk as string;
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === '"' && bare) {
        field += c;
      } else if (c === '"') {
        if (afterQuote) field += '"'; // "" inside a quoted field
        quoted = true;
        afterQuote = false;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        afterQuote = false;
        bare = false;
      } else if (c === '\n') {
        if (field.endsWith('\r') && !afterQuote) field = field.slice(0, -1);
        fields.push(field);
        yield { line: startLine, fields };
        fields = [];
        field = '';
        afterQuote = false;
        bare = false;
        line++;
        startLine = line;
      } else if (c === '\r' && afterQuote) {
        // CR after a closing quote: the LF that follows ends the record.
      } else {
        field += c;
        bare = !afterQuote;
        afterQuote = false;
      }
    }
  }
  if (quoted)
    throw new CsvSyntaxError(
      `line ${startLine}: a quoted field is never closed, so the rows after it cannot be told apart; fix the quote and import again (nothing was imported)`,
    );
  if (field !== '' || fields.length > 0) {
    fields.push(field.endsWith('\r') ? field.slice(0, -1) : field);
    yield { line: startLine, fields };
  }
}
