import { ALL_APPS, type AppScope } from './app-scope';
import type { CallEventFilter, CallFilter } from './filters';
import { callMatches, eventMatches, type MatchableCall, type MatchableEvent } from './live-filter';

const event: MatchableEvent = {
  sdkAppId: '1', callId: 'c1', userId: 'alice', role: 'CALLER', type: 'START_CALL', callType: 'SINGLE', mediaType: 'AUDIO',
  eventTime: new Date('2024-03-10T00:00:00Z'),
};
const call: MatchableCall = {
  sdkAppId: '1', callId: 'c1', roomId: 'r1', callType: 'GROUP', mediaType: 'VIDEO', status: 'ONGOING', result: null,
  startedAt: new Date('2024-03-10T00:00:00Z'), participants: [{ userId: 'alice', role: 'CALLER' }, { userId: 'bob', role: 'CALLEE' }],
};
const onlyApp2: AppScope = { all: false, apps: ['2'] };

describe('eventMatches', () => {
  it.each<[string, CallEventFilter | null, AppScope, boolean]>([
    ['no filter', null, ALL_APPS, true],
    ['an app outside the scope', null, onlyApp2, false],
    ['sdkAppId', { sdkAppId: '1' }, ALL_APPS, true],
    ['another sdkAppId', { sdkAppId: '2' }, ALL_APPS, false],
    ['userId', { userId: 'alice' }, ALL_APPS, true],
    ['another userId', { userId: 'bob' }, ALL_APPS, false],
    ['role', { role: 'CALLEE' }, ALL_APPS, false],
    ['mediaType', { mediaType: 'AUDIO' }, ALL_APPS, true],
    ['callType', { callType: 'GROUP' }, ALL_APPS, false],
    ['event types', { events: ['ACCEPT_CALL', 'START_CALL'] }, ALL_APPS, true],
    ['other event types', { events: ['ACCEPT_CALL'] }, ALL_APPS, false],
    ['an empty event list (no constraint)', { events: [] }, ALL_APPS, true],
    ['a time range containing it', { eventTime: { from: new Date('2024-03-10T00:00:00Z') } }, ALL_APPS, true],
    ['a time range ending at it (exclusive)', { eventTime: { to: new Date('2024-03-10T00:00:00Z') } }, ALL_APPS, false],
    ['callId', { callId: 'c2' }, ALL_APPS, false],
  ])('%s', (_name, filter, scope, expected) => {
    expect(eventMatches(event, filter, scope)).toBe(expected);
  });
});

describe('callMatches', () => {
  it.each<[string, CallFilter | null, AppScope, boolean]>([
    ['no filter', null, ALL_APPS, true],
    ['an app outside the scope', null, onlyApp2, false],
    ['a participant', { userId: 'bob' }, ALL_APPS, true],
    ['a participant in their role', { userId: 'bob', role: 'CALLEE' }, ALL_APPS, true],
    ['a participant in another role', { userId: 'bob', role: 'CALLER' }, ALL_APPS, false],
    ['someone not in the call', { userId: 'carol' }, ALL_APPS, false],
    ['status', { status: ['RINGING', 'ONGOING'] }, ALL_APPS, true],
    ['result on a call with none yet', { result: ['NORMAL_END'] }, ALL_APPS, false],
    ['mediaType and callType', { mediaType: 'VIDEO', callType: 'GROUP' }, ALL_APPS, true],
    ['roomId', { roomId: 'r2' }, ALL_APPS, false],
    ['startedAt', { startedAt: { from: new Date('2024-03-11T00:00:00Z') } }, ALL_APPS, false],
  ])('%s', (_name, filter, scope, expected) => {
    expect(callMatches(call, filter, scope)).toBe(expected);
  });
});
