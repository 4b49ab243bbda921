import { clock, el, since } from './dom';
import type { BoardCall } from './types';

/** The other participants with their outcome, e.g. `bob (accepted)`. */
function callees(call: BoardCall): string {
  const others = call.participants.filter((p) => p.userId !== call.callerId);
  return others.map((p) => `${p.userId} (${p.outcome.toLowerCase().replace(/_/g, ' ')})`).join(', ') || '–';
}

function row(call: BoardCall, now: number): HTMLTableRowElement {
  // Ringing: time since the call started; ongoing: time since it was answered.
  const from = call.status === 'ONGOING' ? (call.acceptedAt ?? call.startedAt) : call.startedAt;
  return el(
    'tr',
    { 'data-call-id': call.callId, 'data-status': call.status },
    el('td', {}, el('span', { class: `badge ${call.status.toLowerCase()}` }, call.status === 'RINGING' ? 'Ringing' : 'Ongoing')),
    el('td', { class: 'mono' }, call.callId),
    el('td', {}, call.callerId ?? '–'),
    el('td', {}, callees(call)),
    el('td', { class: 'nowrap' }, call.mediaType ?? '–'),
    el('td', { class: 'nowrap', title: `started ${clock(call.startedAt)}` }, since(from, now)),
    el('td', { class: 'mono' }, call.sdkAppId),
  );
}

/** Redraws the board (a few hundred rows at most). */
export function renderBoard(body: HTMLTableSectionElement, empty: HTMLElement, calls: readonly BoardCall[], now = Date.now()): void {
  body.replaceChildren(...calls.map((c) => row(c, now)));
  empty.hidden = calls.length > 0;
}
