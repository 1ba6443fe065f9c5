import { stringify } from 'csv-stringify';

// Spreadsheet programs run a cell that starts with =, +, -, @, tab or carriage return as a
// formula. A leading apostrophe keeps such a cell text (OWASP's advice for CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutralise(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** A streaming CSV writer: UTF-8, a header row, formulas neutralised, optionally Excel's BOM. */
export function csvStream(columns: readonly string[], options: { bom?: boolean } = {}) {
  return stringify({
    header: true,
    columns: [...columns],
    bom: options.bom ?? false,
    cast: { string: neutralise },
  });
}
