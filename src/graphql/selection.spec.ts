import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { selectedFields } from './selection';

/** The info a resolver of the document's first root field would get. */
function infoOf(document: string, variableValues: Record<string, unknown> = {}) {
  const doc = parse(document);
  const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const root = operation.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD);
  return { fieldNodes: [root[0]], fragments, variableValues };
}

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

  it('leaves out what @skip and @include turn off, with literal or variable conditions', () => {
    const info = infoOf(
      `query($p: Boolean!) { callStats { calls p50TalkSeconds @include(if: $p) p95TalkSeconds @skip(if: true) ... on CallStatsRow @skip(if: $p) { missed } } }`,
      { p: false },
    );
    expect(sorted(selectedFields(info))).toEqual(['calls', 'missed']);
  });
});
