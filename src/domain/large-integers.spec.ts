import fc from 'fast-check';
import { mayHoldLargeIntegers, quoteLargeIntegers } from './large-integers';

describe('quoteLargeIntegers', () => {
  it.each<[string, string, string]>([
    ["Tencent's numeric User_Account", '{"User_Account":144115212830834855}', '{"User_Account":"144115212830834855"}'],
    ['a negative large integer', '{"a":-144115212830834855}', '{"a":"-144115212830834855"}'],
    ['large integers in an array', '[144115212830834855, 144115212948889925]', '["144115212830834855", "144115212948889925"]'],
    ['2^53 + 1', '{"a":9007199254740993}', '{"a":"9007199254740993"}'],
    ['the largest safe integer, as written', '{"a":9007199254740991}', '{"a":9007199254740991}'],
    ['a millisecond EventTime, as written', '{"EventTime":1740464128807}', '{"EventTime":1740464128807}'],
    ['digits inside a string, as written', '{"a":"144115212830834855"}', '{"a":"144115212830834855"}'],
    ['digits after an escaped quote, as written', '{"a":"x\\"144115212830834855"}', '{"a":"x\\"144115212830834855"}'],
    ['a large number with a fraction, as written', '{"a":144115212830834855.5}', '{"a":144115212830834855.5}'],
    ['a large number with an exponent, as written', '{"a":1441152128308348e10}', '{"a":1441152128308348e10}'],
  ])('reads %s', (_name, json, want) => {
    expect(quoteLargeIntegers(json)).toBe(want);
  });

  it('keeps every integer exactly through JSON.parse', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n })), (ints) => {
        const parsed = JSON.parse(quoteLargeIntegers(`{"v":[${ints.join(',')}]}`)) as { v: (number | string)[] };
        expect(parsed.v.map(String)).toEqual(ints.map(String));
      }),
    );
  });

  it('tells which texts may hold a large integer', () => {
    expect(mayHoldLargeIntegers('{"a":1740464128807}')).toBe(false);
    expect(mayHoldLargeIntegers('{"a":144115212830834855}')).toBe(true);
  });
});
