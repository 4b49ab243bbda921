import { parse, type FragmentDefinitionNode, type OperationDefinitionNode, type FieldNode, Kind } from 'graphql';
import { selectsPath } from './selection';

/** The root field's node and the fragments of `query`, as a resolver's `info` would give them. */
function infoOf(query: string) {
  const doc = parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  return { fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments };
}

describe('selectsPath', () => {
  it.each([
    ['a plain selection', '{ participants { edges { node { call { callId } } } } }', true],
    ['an alias (field names count)', '{ participants { e: edges { n: node { c: call { callId } } } } }', true],
    ['an inline fragment', '{ participants { edges { node { ... on P { call { callId } } } } } }', true],
    ['a named fragment', '{ participants { edges { ...E } } } fragment E on Edge { node { call { callId } } }', true],
    ['nested named fragments', '{ participants { ...C } } fragment C on Conn { edges { ...E } } fragment E on Edge { node { call { callId } } }', true],
    ['a selection without it', '{ participants { edges { node { userId } } } }', false],
    ['the name at another depth', '{ participants { edges { call: node { userId } } } }', false],
    ['a fragment that refers to itself (invalid, but must not loop)', '{ participants { ...C } } fragment C on Conn { ...C }', false],
  ])('%s', (_name, query, expected) => {
    expect(selectsPath(infoOf(query), ['edges', 'node', 'call'])).toBe(expected);
  });
});
