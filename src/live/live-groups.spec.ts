import { ALL_APPS, type AppScope } from '../domain/app-scope';
import { LiveGroups, renderEntry, stableKey, type GroupMatching, type LiveRenderer } from './live-groups';
import { LiveSubscription } from './live-subscription';

interface Item {
  readonly app: string;
  readonly user: string;
  readonly call: string;
}
interface Filter {
  readonly user?: string | null;
  readonly call?: string | null;
  readonly kind?: string | null;
}
const matching: GroupMatching<Item, Filter> = {
  pin: (f) => ({ user: f?.user, call: f?.call }),
  users: (i) => [i.user],
  call: (i) => i.call,
  matches: (i, f, scope) => (scope.all || scope.apps.includes(i.app)) && (!f?.user || f.user === i.user) && (!f?.call || f.call === i.call),
};
const renderer = (key: string): LiveRenderer<Item, string> => ({ key, render: (i) => `${key}:${i.user}` });
const appScope = (...apps: string[]): AppScope => ({ all: false, apps });
const member = () =>
  new LiveSubscription<string>({ outlet: { ready: () => undefined }, max: 10, startPosition: '0', replay: null, onSlow: () => undefined, onEnd: () => undefined, joinedAt: 0 });

describe('LiveGroups', () => {
  it('puts subscriptions with the same scope, filter and renderer key in one group, and any difference in another', () => {
    const groups = new LiveGroups<Item, string, Filter>(matching);
    const a = groups.join(appScope('1', '2'), { user: 'u' }, renderer('sel'));
    expect(groups.join(appScope('2', '1'), { user: 'u', kind: null }, renderer('sel'))).toBe(a); // app order and null fields do not matter
    expect(groups.join(appScope('1'), { user: 'u' }, renderer('sel'))).not.toBe(a);
    expect(groups.join(ALL_APPS, { user: 'u' }, renderer('sel'))).not.toBe(a);
    expect(groups.join(appScope('1', '2'), { user: 'v' }, renderer('sel'))).not.toBe(a);
    expect(groups.join(appScope('1', '2'), { user: 'u' }, renderer('other'))).not.toBe(a);
    expect(groups.size).toBe(5);
  });

  it('matches an item only against the groups pinned to its user or call and the unpinned ones, each in its scope', () => {
    const groups = new LiveGroups<Item, string, Filter>(matching);
    const alice = groups.join(ALL_APPS, { user: 'alice' }, renderer('r'));
    const bob = groups.join(ALL_APPS, { user: 'bob' }, renderer('r'));
    const call = groups.join(ALL_APPS, { call: 'c1' }, renderer('r'));
    const appOne = groups.join(appScope('1'), null, renderer('r'));
    const appTwo = groups.join(appScope('2'), null, renderer('r'));
    expect(groups.matchingGroups({ app: '1', user: 'alice', call: 'c1' })).toEqual(expect.arrayContaining([alice, call, appOne]));
    expect(groups.matchingGroups({ app: '1', user: 'alice', call: 'c1' })).toHaveLength(3);
    expect(groups.matchingGroups({ app: '2', user: 'carol', call: 'c2' })).toEqual([appTwo]);
    expect([...groups.candidates({ app: '2', user: 'carol', call: 'c2' })]).toEqual([appOne, appTwo]);
    expect(bob.members.size).toBe(0);
  });

  it('forgets a group when its last member leaves', () => {
    const groups = new LiveGroups<Item, string, Filter>(matching);
    const group = groups.join(ALL_APPS, { user: 'alice' }, renderer('r'));
    const [one, two] = [member(), member()];
    group.members.add(one).add(two);
    groups.leave(group, one);
    expect(groups.size).toBe(1);
    groups.leave(group, two);
    expect(groups.size).toBe(0);
    expect(groups.matchingGroups({ app: '1', user: 'alice', call: 'c' })).toEqual([]);
    expect(groups.join(ALL_APPS, { user: 'alice' }, renderer('r'))).not.toBe(group);
  });

  it('renders an item once for all the members of a group', () => {
    const groups = new LiveGroups<Item, string, Filter>(matching);
    let renders = 0;
    const group = groups.join(ALL_APPS, null, { key: 'k', render: (i) => (renders++, i.user) });
    const members = [member(), member(), member()];
    members.forEach((m) => group.members.add(m));
    group.deliver({ app: '1', user: 'alice', call: 'c' }, '7');
    expect(renders).toBe(1);
    const taken = members.map((m) => m.take());
    expect(taken.map((e) => e?.value)).toEqual(['alice', 'alice', 'alice']);
    expect(new Set(taken).size).toBe(1); // one shared entry
  });
});

describe('renderEntry', () => {
  it('is ready at once for a synchronous rendering', () => {
    expect(renderEntry(renderer('k'), { app: '1', user: 'u', call: 'c' }, '1', () => undefined)).toEqual({ position: '1', value: 'k:u' });
  });

  it('fills in an asynchronous rendering, or its error, and says so', async () => {
    const settled: string[] = [];
    const ok = renderEntry({ key: 'k', render: async () => 'later' }, null, '1', () => settled.push('ok'));
    const bad = renderEntry({ key: 'k', render: () => Promise.reject(new Error('no')) }, null, '2', () => settled.push('bad'));
    expect(ok.value).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(ok.value).toBe('later');
    expect((bad.error as Error).message).toBe('no');
    expect(settled.sort()).toEqual(['bad', 'ok']);
  });

  it('records a rendering that throws', () => {
    const entry = renderEntry({ key: 'k', render: () => { throw new Error('boom'); } }, null, '3', () => undefined);
    expect((entry.error as Error).message).toBe('boom');
  });
});

describe('stableKey', () => {
  it('tells dates apart and ignores key order and absent fields', () => {
    expect(stableKey({ b: 1, a: { to: new Date(0) } })).toBe(stableKey({ a: { to: new Date(0), from: undefined }, b: 1 }));
    expect(stableKey({ t: new Date(0) })).not.toBe(stableKey({ t: new Date(1000) }));
    expect(stableKey({ events: ['A', 'B'] })).not.toBe(stableKey({ events: ['B', 'A'] }));
  });
});
