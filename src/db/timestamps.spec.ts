import fc from 'fast-check';
import { types } from 'pg';
import { pgTimestampText as pgText } from '../../test/support/timestamps';
import { isoFromUtcText, parseTimestamptz, PG_TYPES, TimestampTextError } from './timestamps';

const pgParser = types.getTypeParser(types.builtins.TIMESTAMPTZ, 'text') as (text: string) => unknown;

const asComparable = (value: unknown): unknown => (value instanceof Date ? `Date ${value.getTime()}` : value);

describe('parseTimestamptz', () => {
  it("gives pg's own parser's value for PostgreSQL's text of any timestamp from year 1000 to 9999", () => {
    const min = Date.UTC(1000, 0, 1);
    const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    fc.assert(
      fc.property(fc.integer({ min, max }), fc.integer({ min: 0, max: 999 }), fc.boolean(), (ms, micros, whole) => {
        const text = pgText(whole ? ms - (((ms % 1000) + 1000) % 1000) : ms, whole ? 0 : micros);
        const parsed = parseTimestamptz(text);
        expect(parsed).toBeInstanceOf(Date);
        expect(asComparable(parsed)).toBe(asComparable(pgParser(text)));
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps the millisecond of every fraction, dropping the digits beyond it', () => {
    for (let ms = 0; ms < 1000; ms++) {
      const text = pgText(Date.UTC(2024, 0, 8, 6, 32, 46, ms), 999);
      expect((parseTimestamptz(text) as Date).getUTCMilliseconds()).toBe(ms);
    }
    expect((parseTimestamptz('2024-01-08 06:32:46.5+00') as Date).toISOString()).toBe('2024-01-08T06:32:46.500Z');
    expect((parseTimestamptz('2024-01-08 06:32:46.000999+00') as Date).toISOString()).toBe('2024-01-08T06:32:46.000Z');
  });

  it.each([
    ['another offset', '2024-01-08 14:32:46.123+08'],
    ['an offset with minutes', '2024-01-08 12:02:46+05:30'],
    ['a year before 1000', '0099-01-08 06:32:46+00'],
    ['a year after 9999', '12024-01-08 06:32:46+00'],
    ['BC', '2024-01-08 06:32:46+00 BC'],
    ['infinity', 'infinity'],
    ['-infinity', '-infinity'],
    ['a letter among the digits', '2024-01-08 06:3x:46.123+00'],
    ['a letter in the fraction', '2024-01-08 06:32:46.12x+00'],
  ])("gives pg's own parser's value for %s", (_name, text) => {
    expect(asComparable(parseTimestamptz(text))).toEqual(asComparable(pgParser(text)));
  });

  it('is the text parser of timestamptz in the pools, and only of it', () => {
    expect(PG_TYPES.getTypeParser(types.builtins.TIMESTAMPTZ, 'text')).toBe(parseTimestamptz);
    expect(PG_TYPES.getTypeParser(types.builtins.TIMESTAMPTZ)).toBe(parseTimestamptz);
    expect(PG_TYPES.getTypeParser(types.builtins.TIMESTAMP, 'text')).toBe(types.getTypeParser(types.builtins.TIMESTAMP, 'text'));
    expect(PG_TYPES.getTypeParser(types.builtins.INT4, 'text')).toBe(types.getTypeParser(types.builtins.INT4, 'text'));
  });
});

describe('isoFromUtcText', () => {
  it("gives toISOString() of pg's parsed value for PostgreSQL's UTC text of any timestamp from year 1 to 9999", () => {
    const min = new Date('0001-01-01T00:00:00Z').getTime();
    const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    fc.assert(
      fc.property(fc.integer({ min, max }), fc.integer({ min: 0, max: 999 }), fc.boolean(), (ms, micros, whole) => {
        const utc = pgText(whole ? ms - (((ms % 1000) + 1000) % 1000) : ms, whole ? 0 : micros, '');
        expect(isoFromUtcText(utc)).toBe((pgParser(`${utc}+00`) as Date).toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  it('pads every fraction length to the millisecond and drops the digits beyond it', () => {
    expect(isoFromUtcText('2024-01-08 06:32:46')).toBe('2024-01-08T06:32:46.000Z');
    expect(isoFromUtcText('2024-01-08 06:32:46.5')).toBe('2024-01-08T06:32:46.500Z');
    expect(isoFromUtcText('2024-01-08 06:32:46.05')).toBe('2024-01-08T06:32:46.050Z');
    expect(isoFromUtcText('2024-01-08 06:32:46.123')).toBe('2024-01-08T06:32:46.123Z');
    expect(isoFromUtcText('2024-01-08 06:32:46.0009')).toBe('2024-01-08T06:32:46.000Z');
    expect(isoFromUtcText('2024-01-08 06:32:46.999999')).toBe('2024-01-08T06:32:46.999Z');
    expect(isoFromUtcText(null)).toBeNull();
  });

  it.each([
    ['a year after 9999', '12024-01-08 06:32:46'],
    ['BC', '2024-01-08 06:32:46 BC'],
    ['BC after a fraction of one digit', '0001-12-31 23:59:59.5 BC'],
    ['BC after a fraction of two digits', '0001-12-31 23:59:59.12 BC'],
    ['BC after a fraction of three digits', '0044-03-15 12:00:00.123 BC'],
    ['a letter in the fraction', '2024-01-08 06:32:46.12x'],
    ['a letter among the digits', '2024-01-08 06:3x:46.123'],
    ['infinity', 'infinity'],
    ['an offset', '2024-01-08 06:32:46+00'],
    ['DateStyle SQL', '01/08/2024 06:32:46.123'],
    ['DateStyle Postgres', 'Mon Jan 08 06:32:46.123 2024'],
    ['a lone point', '2024-01-08 06:32:46.'],
    ['seven fraction digits', '2024-01-08 06:32:46.1234567'],
  ])('refuses %s, naming the text', (_name, text) => {
    expect(() => isoFromUtcText(text)).toThrow(TimestampTextError);
    expect(() => isoFromUtcText(text)).toThrow(`got "${text}"`);
  });
});
