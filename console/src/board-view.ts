import { clock, el, since } from './dom';
import type { BoardCall } from './types';

function participants(call: BoardCall): string {
  return call.participants.map((p) => `${p.userId} (${p.outcome.toLowerCase().replace(/_/g, ' ')})`).join(', ') || '–';
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
    el('td', {}, participants(call)),
    el('td', {}, call.mediaType ?? '–'),
    el('td', {}, el('time', { datetime: call.startedAt ?? '' }, clock(call.startedAt))),
    el('td', {}, since(from, now)),
    el('td', { class: 'mono' }, call.sdkAppId),
  );
}

/** Redraws the board (a few hundred rows at most). */
export function renderBoard(body: HTMLTableSectionElement, empty: HTMLElement, calls: readonly BoardCall[], now = Date.now()): void {
  body.replaceChildren(...calls.map((c) => row(c, now)));
  empty.hidden = calls.length > 0;
}
