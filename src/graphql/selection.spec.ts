import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { pageArgsFor, selectedFields } from './selection';

/** The root field's node, the fragments and the variables of `query`, as a resolver's `info` would give them. */
function infoOf(query: string, variableValues: Record<string, unknown> = {}) {
  const doc = parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  return { fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments, variableValues };
}

describe('selectedFields at a path', () => {
  it.each([
    ['a plain selection', '{ participants { edges { node { call { callId } } } } }', true],
    ['an alias (field names count)', '{ participants { e: edges { n: node { c: call { callId } } } } }', true],
    ['an inline fragment', '{ participants { edges { node { ... on P { call { callId } } } } } }', true],
    ['a named fragment', '{ participants { edges { ...E } } } fragment E on Edge { node { call { callId } } }', true],
    ['nested named fragments', '{ participants { ...C } } fragment C on Conn { edges { ...E } } fragment E on Edge { node { call { callId } } }', true],
    ['a selection without it', '{ participants { edges { node { userId } } } }', false],
    ['a field turned off by @skip', '{ participants { edges { node { call @skip(if: true) { callId } } } } }', false],
    ['a fragment spread again under another alias', '{ participants { a: edges { ...N } b: edges { node { userId } ...N } } } fragment N on Edge { node { call { callId } } }', true],
    ['the name at another depth', '{ participants { edges { call: node { userId } } } }', false],
    ['a fragment that refers to itself (invalid, but must not loop)', '{ participants { ...C } } fragment C on Conn { ...C }', false],
  ])('%s', (_name, query, expected) => {
    expect(selectedFields(infoOf(query), ['edges', 'node']).has('call')).toBe(expected);
  });
});

const sorted = (s: Set<string>) => [...s].sort();

describe('selectedFields', () => {
  it('lists the fields selected directly, aliases read as the field they name', () => {
    expect(sorted(selectedFields(infoOf('{ callStats { bucket n: calls calls answered } }')))).toEqual(['answered', 'bucket', 'calls']);
  });

  it('reads through inline fragments and fragment spreads, each spread once', () => {
    const info = infoOf(`
      { callStats { ...A ... on CallStatsRow { missed } ...A } }
      fragment A on CallStatsRow { calls ...B }
      fragment B on CallStatsRow { p95TalkSeconds }`);
    expect(sorted(selectedFields(info))).toEqual(['calls', 'missed', 'p95TalkSeconds']);
  });

  it('lists the fields at a path, merged over aliases and fragments of the fields on the way', () => {
    const info = infoOf('{ participants { e: edges { node { userId call { status } } } edges { ...N } } } fragment N on Edge { node { role call { callId } } }');
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['call', 'role', 'userId']);
    expect(sorted(selectedFields(info, ['edges', 'node', 'call']))).toEqual(['callId', 'status']);
    expect(sorted(selectedFields(info, ['pageInfo']))).toEqual([]);
  });

  it('leaves out what @skip and @include turn off, with literal or variable conditions', () => {
    const info = infoOf(
      `query($p: Boolean!) { callStats { calls p50TalkSeconds @include(if: $p) p95TalkSeconds @skip(if: true) ... on CallStatsRow @skip(if: $p) { missed } } }`,
      { p: false },
    );
    expect(sorted(selectedFields(info))).toEqual(['calls', 'missed']);
  });
});

describe('pageArgsFor', () => {
  it.each([
    ['totalCount alone', '{ calls { totalCount } }', false],
    ['edges', '{ calls { totalCount edges { cursor } } }', true],
    ['pageInfo alone', '{ calls { pageInfo { hasNextPage } } }', true],
    ['edges turned off by @include', '{ calls { totalCount edges @include(if: false) { cursor } } }', false],
    ['edges in a fragment', '{ calls { ...C } } fragment C on CallConnection { edges { cursor } }', true],
  ])('%s', (_name, query, rows) => {
    expect(pageArgsFor(infoOf(query), { first: 3 })).toEqual({ first: 3, rows });
  });
});
