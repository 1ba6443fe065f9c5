import { stringify } from 'csv-stringify';

/**
 * A streaming CSV writer: UTF-8, a header row, optionally Excel's BOM, and formulas neutralised:
 * spreadsheet programs run a text cell that starts with =, +, -, @, tab or carriage return (and
 * the full-width ＝ ＋ － ＠) as a formula, so csv-stringify's `escape_formulas` prefixes such a
 * cell with an apostrophe (OWASP's advice for CSV injection). Numbers, negative ones included,
 * stay numbers. A cell holding `;` or a tab is quoted too: Excel set to split on `;` (as in Ukraine
 * and most of Europe) or on tabs would otherwise cut `Olena;=cmd…` into a cell that starts with `=`.
 */
export function csvStream(columns: readonly string[], options: { bom?: boolean } = {}) {
  return stringify({
    header: true,
    columns: [...columns],
    bom: options.bom ?? false,
    escape_formulas: true,
    quoted_match: /[;\t]/,
  });
}
