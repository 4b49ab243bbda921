import type { GraphQLSchema } from 'graphql';
import { ValidDocuments, checkOperation } from './operation-check';
import { buildCalltrailSchema } from './schema';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildCalltrailSchema();
});

const PAGE = 'query($n: Int) { calls(first: $n) { edges { node { callId } } } }';

describe('checkOperation with known documents', () => {
  it('parses and validates a query text once, and checks the cost of each request with its own variables', () => {
    const known = new ValidDocuments();
    const first = checkOperation(schema, [], 500, { query: PAGE, variables: { n: 10 } }, known);
    const second = checkOperation(schema, [], 500, { query: PAGE, variables: { n: 20 } }, known);
    expect(Array.isArray(first)).toBe(false);
    expect(second).toBe(first); // the same document, not parsed again
    const tooCostly = checkOperation(schema, [], 500, { query: PAGE, variables: { n: 400 } }, known); // 1 + 400 × 2 rows
    expect(Array.isArray(tooCostly)).toBe(true);
    expect(JSON.stringify(tooCostly)).toContain('500');
  });

  it('keeps no invalid text, and forgets the least recently used past its size', () => {
    const known = new ValidDocuments(2);
    expect(Array.isArray(checkOperation(schema, [], 2000, { query: '{ nope }' }, known))).toBe(true);
    expect(known.get('{ nope }')).toBeUndefined();
    const texts = ['{ a: callStats { calls } }', '{ b: callStats { calls } }', '{ c: callStats { calls } }'];
    checkOperation(schema, [], 2000, { query: texts[0] }, known);
    checkOperation(schema, [], 2000, { query: texts[1] }, known);
    known.get(texts[0]); // used again: the first is now the most recent
    checkOperation(schema, [], 2000, { query: texts[2] }, known);
    expect(texts.map((t) => known.get(t) !== undefined)).toEqual([true, false, true]);
  });
});
