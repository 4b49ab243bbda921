import { GraphQLDateTime } from 'graphql-scalars';
import { DateTimeScalar } from './scalars';

describe('DateTimeScalar', () => {
  it('serialises a Date to the ISO text JSON would have written for it', () => {
    const at = new Date('2024-01-08T06:32:46.123Z');
    expect(DateTimeScalar.serialize(at)).toBe('2024-01-08T06:32:46.123Z');
    expect(JSON.stringify({ at: DateTimeScalar.serialize(at) })).toBe(JSON.stringify({ at }));
  });

  it('serialises an ISO string with an offset to UTC text', () => {
    expect(DateTimeScalar.serialize('2024-01-08T14:32:46+08:00')).toBe('2024-01-08T06:32:46.000Z');
  });

  it('refuses an invalid Date as graphql-scalars does', () => {
    expect(() => DateTimeScalar.serialize(new Date(Number.NaN))).toThrow('DateTime cannot represent an invalid Date instance');
  });

  it('refuses a number no date can hold with a GraphQL error that names it', () => {
    expect(() => DateTimeScalar.serialize(1e20)).toThrow('DateTime: expected a valid date, got 100000000000000000000');
    expect(DateTimeScalar.serialize(0)).toBe('1970-01-01T00:00:00.000Z');
  });

  it('keeps the name, description and input parsing of graphql-scalars', () => {
    expect(DateTimeScalar.name).toBe(GraphQLDateTime.name);
    expect(DateTimeScalar.description).toBe(GraphQLDateTime.description);
    expect(DateTimeScalar.parseValue('2024-01-08T06:32:46Z')).toEqual(new Date('2024-01-08T06:32:46Z'));
  });
});
