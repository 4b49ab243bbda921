import { parse, type GraphQLSchema } from 'graphql';
import { AGGREGATE_COST, checkCost, estimateCost } from './cost';
import { buildCalltrailSchema } from './schema';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildCalltrailSchema();
});

const cost = (query: string, variables: Record<string, unknown> = {}, operationName?: string) => {
  const document = parse(query);
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition' && (!operationName || d.name?.value === operationName));
  if (!operation || operation.kind !== 'OperationDefinition') throw new Error('test: expected an operation');
  return estimateCost(schema, document, operation, variables);
};

const STATS = AGGREGATE_COST.get('callStats')!;
const COUNT = AGGREGATE_COST.get('totalCount')!;
/** Aggregates by alias: each one scans every call its filter matches. */
const STATS_ALIASES = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `s${i}: callStats(interval: HOUR) { bucket calls answered missed }`).join(' ')} }`;

/** The amplification of the issue: nested unpaged lists under a page whose size is a variable. */
const AMPLIFY = `query($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: calls(first: $n) { edges { node { participants { call { participants { call { events { call { callId } } } } } } } } }`).join(' ')} }`;

describe('estimateCost', () => {
  it('counts a page of rows by its size, one for the connection and one per edge and node', () => {
    expect(cost('{ calls(first: 20) { edges { node { callId status } } } }')).toBe(1 + 20 * (1 + 1));
  });

  it('reads the page size from the variables, as the executor will', () => {
    expect(cost('query($n: Int) { calls(first: $n) { edges { node { callId } } } }', { n: 500 })).toBe(1 + 500 * 2);
    expect(cost('query($n: Int = 300) { calls(first: $n) { edges { node { callId } } } }')).toBe(1 + 300 * 2);
    expect(cost('query($n: Int) { calls(last: $n) { edges { node { callId } } } }', { n: 7 })).toBe(1 + 7 * 2);
  });

  it('counts the default page (50) without first or last, and at most 500 rows for a larger page', () => {
    expect(cost('{ calls { edges { node { callId } } } }')).toBe(1 + 50 * 2);
    expect(cost('{ calls(first: 100000) { edges { node { callId } } } }')).toBe(1 + 500 * 2);
  });

  it('multiplies unpaged nested lists by an estimate of 10 rows', () => {
    expect(cost('{ call(callId: "x") { participants { userId } events { event } } }')).toBe(1 + 10 * 1 + 10 * 1);
  });

  it('counts fragments and inline fragments like the fields they hold, and nothing that is skipped', () => {
    const viaFragment = cost('query { calls(first: 3) { ...Page } } fragment Page on CallConnection { edges { node { ... on Call { participants { userId } } } } }');
    expect(viaFragment).toBe(cost('{ calls(first: 3) { edges { node { participants { userId } } } } }'));
    expect(cost('query($no: Boolean!) { calls(first: 3) @include(if: $no) { totalCount } call(callId: "x") @skip(if: true) { callId } }', { no: false })).toBe(0);
  });

  it('stays linear on fragments that spread the next fragment twice', () => {
    const chain = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Call { callId ${i < 39 ? `...F${i + 1} ...F${i + 1}` : ''} }`).join(' ');
    expect(cost(`query { call(callId: "x") { ...F0 } } ${chain}`)).toBe(1);
  });

  it('prices each callStats and each totalCount as the scan it runs, whatever it selects', () => {
    expect(STATS).toBeGreaterThan(COUNT);
    expect(cost('{ callStats { calls } }')).toBe(STATS);
    expect(cost(STATS_ALIASES(3))).toBe(3 * STATS);
    expect(cost('{ calls(first: 10) { totalCount edges { node { callId } } } }')).toBe(1 + COUNT + 10 * 2);
    expect(cost('{ a: calls { totalCount } b: participants { totalCount } c: callEvents { totalCount } d: rejectedCallbacks { totalCount } }')).toBe(4 * (1 + COUNT));
  });

  it('returns null when the variables do not coerce (the executor refuses them before reading)', () => {
    expect(cost('query($n: Int) { calls(first: $n) { totalCount } }', { n: 'many' })).toBeNull();
  });
});

describe('checkCost', () => {
  it('refuses the amplification query of the issue when its page size comes from a variable', () => {
    const error = checkCost(schema, parse(AMPLIFY), null, { n: 500 }, 20000);
    expect(error?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maxCost: 20000 });
    expect(error?.message).toMatch(/^query cost: expected at most 20000 rows .*, got an estimated \d+;/);
    expect(error?.extensions.cost).toBeGreaterThan(20_000_000);
  });

  it('refuses 20 aliased callStats in one operation and lets a dashboard of a few through', () => {
    const error = checkCost(schema, parse(STATS_ALIASES(20)), null, {}, 20000);
    expect(error?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', cost: 20 * STATS, maxCost: 20000 });
    const dashboard = `{ total: calls(filter: { status: [ENDED] }) { totalCount } ${STATS_ALIASES(4).slice(1, -1)} byMedia: callStats(groupBy: [MEDIA_TYPE], interval: DAY) { bucket mediaType calls } }`;
    expect(checkCost(schema, parse(dashboard), null, {}, 20000)).toBeNull();
  });

  it('lets the README and docs/api.md examples through', () => {
    const examples = [
      '{ calls(first: 10) { totalCount edges { node { callId status callerId startedAt participants { userId role outcome } } } } }',
      '{ participants(filter: { userId: "Alice", outcome: [NO_ANSWER] }, first: 20) { edges { node { role outcome call { callId callerId mediaType startedAt } } } pageInfo { hasNextPage endCursor } } }',
      '{ callStats(groupBy: [MEDIA_TYPE], interval: DAY, timeZone: "Asia/Shanghai") { bucket mediaType calls answered answerRate missed avgTalkSeconds p95TalkSeconds } }',
      'subscription($after: String) { callEventAdded(filter: { mediaType: VIDEO }, after: $after) { cursor event callId userId } }',
      'subscription { callUpdated(filter: { status: [RINGING, ONGOING] }) { callId status callerId startedAt participants { userId outcome } } }',
      '{ rejectedCallbacks(first: 20) { totalCount edges { node { errorCode reason sdkAppId queryString rawBody times lastSeenAt } } } }',
      '{ callEvents(first: 500) { totalCount edges { node { sdkAppId call { sdkAppId participants { userId } events { sdkAppId } } } } } }',
    ];
    for (const query of examples) expect(checkCost(schema, parse(query), null, {}, 20000)).toBeNull();
  });

  it('picks the named operation of a document with several', () => {
    const doc = parse('query Small { calls(first: 1) { totalCount } } query Big { calls(first: 500) { edges { node { events { event } } } } }');
    expect(checkCost(schema, doc, 'Small', {}, 1000)).toBeNull();
    expect(checkCost(schema, doc, 'Big', {}, 1000)).not.toBeNull();
  });
});
