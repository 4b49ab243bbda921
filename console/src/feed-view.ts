import { clock, el } from './dom';
import type { FeedEvent } from './types';

/** One feed row; `data-cursor` marks the event it shows. */
function row(e: FeedEvent): HTMLTableRowElement {
  return el(
    'tr',
    { 'data-cursor': e.cursor },
    el('td', {}, el('time', { datetime: e.eventTime }, clock(e.eventTime))),
    el('td', {}, el('span', { class: 'event' }, e.event)),
    el('td', { class: 'mono' }, e.callId),
    el('td', {}, e.userId ?? '–'),
    el('td', {}, e.role ?? '–'),
    el('td', {}, e.mediaType ?? '–'),
    el('td', { class: 'mono' }, e.sdkAppId),
  );
}

/** Puts a new event on top and drops rows past `max`. */
export function prependEvent(body: HTMLTableSectionElement, event: FeedEvent, max: number): void {
  body.prepend(row(event));
  while (body.rows.length > max) body.lastElementChild?.remove();
}
