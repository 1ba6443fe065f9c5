import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTime } from '../../src/imports/formats.js';
import { deep } from '../support/depth.js';

// Times in imported files: the shapes Ghost, Mailchimp, listmonk and the plain format write, read
// exactly; anything else is refused (the row is reported), never guessed.

describe('times in imported files', () => {
  it('when a time is in a shape the tools write, then it is read exactly', () => {
    expect(parseTime('2019-03-04 10:11:12')?.toISOString()).toBe('2019-03-04T10:11:12.000Z');
    expect(parseTime('2020-07-07 07:41:51.474716+00')?.toISOString()).toBe('2020-07-07T07:41:51.474Z');
    expect(parseTime('2019-01-01')?.toISOString()).toBe('2019-01-01T00:00:00.000Z');
    expect(parseTime('2019-01-01T10:00:00+02:00')?.toISOString()).toBe('2019-01-01T08:00:00.000Z');
    expect(parseTime('2024-02-29')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(parseTime('')).toBeUndefined();
  });

  for (const typed of [
    'May 20',
    '1',
    '0',
    '2019-02-30',
    '2019-04-31',
    '2023-02-29',
    '99999',
    '05/20/2019',
    '0000-01-01',
    '2019-01-01T24:00',
  ])
    it(`when "${typed}" is typed, then it is refused, not read as some other day`, () => {
      expect(parseTime(typed)).toBeNull();
    });

  it('when any instant from 1900 to 2199 is written as ISO 8601, then it reads back as the same instant', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('2199-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (at) => {
          expect(parseTime(at.toISOString())?.getTime()).toBe(at.getTime());
          expect(parseTime(at.toISOString().replace('T', ' ').replace('Z', ''))?.getTime()).toBe(
            at.getTime(),
          );
        },
      ),
      { seed: 20261206, numRuns: deep(500) },
    );
  });
});
