import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvStream } from '../../src/http/csv.js';
import { deep } from '../support/depth.js';

async function csvOf(rows: Record<string, unknown>[]): Promise<string> {
  const stream = csvStream(['name', 'amount']);
  for (const row of rows) stream.write(row);
  stream.end();
  let out = '';
  for await (const chunk of stream) out += chunk;
  return out;
}

describe('CSV formula neutralising', () => {
  it('when a cell starts with a formula character, ASCII or full-width, then it is kept as text; numbers stay numbers', async () => {
    const csv = await csvOf([
      { name: '=HYPERLINK("http://evil")', amount: 500 },
      { name: '＝HYPERLINK("http://evil")', amount: -500 },
      { name: '＋380 phone', amount: 0 },
      { name: '－minus', amount: 1 },
      { name: '＠mention', amount: 2 },
      { name: '\rreturn', amount: 3 },
      { name: 'Olena', amount: 4 },
    ]);
    expect(csv.split('\n')).toEqual([
      'name,amount',
      `"'=HYPERLINK(""http://evil"")",500`,
      `"'＝HYPERLINK(""http://evil"")",-500`,
      "'＋380 phone,0",
      "'－minus,1",
      "'＠mention,2",
      `"'\rreturn",3`,
      'Olena,4',
      '',
    ]);
  });
});

/** A line's cells as a spreadsheet splits it on `delimiter`, quotes honoured. */
function cellsAsSplitBy(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '"' && line[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (c === '"' && (quoted || cell === '')) quoted = !quoted;
    else if (c === delimiter && !quoted) {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  return [...cells, cell];
}

describe('CSV opened with another separator', () => {
  it('when any text is exported, then no cell starts a formula, whether the spreadsheet splits on commas, semicolons or tabs', async () => {
    const text = fc.string({
      unit: fc.constantFrom('a', ';', ',', '\t', '=', '+', '-', '@', '＝', '"', ' '),
      maxLength: 10,
    });
    await fc.assert(
      fc.asyncProperty(text, async (name) => {
        const [, line] = (await csvOf([{ name, amount: 1 }])).split('\n');
        for (const delimiter of [',', ';', '\t'])
          for (const cell of cellsAsSplitBy(line!, delimiter))
            expect(/^[=+\-@\t\r＝＋－＠]/.test(cell) && !/^-?\d+$/.test(cell), `${delimiter}: ${cell}`).toBe(
              false,
            );
      }),
      { seed: 20261206, numRuns: deep(500) },
    );
  });
});
