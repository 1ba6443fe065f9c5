import { describe, expect, it } from 'vitest';
import { csvStream } from '../../src/reports/csv.js';

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
