import { PAGE_SIZE, type RecordWindow } from './records-api.schema';
import type { RecordsClient, RecordsPage } from './records.client';

/** Pages asked for ahead of the one being stored: the rate limiter, not this, sets the pace. */
const PREFETCH = 4;
/** A guard against a server that never stops: 10 million records a window is far beyond any app. */
const MAX_PAGES = 100_000;

/** A page, numbered, with the last page expected so far (it grows when records arrive meanwhile). */
export interface NumberedPage extends RecordsPage {
  readonly number: number;
  readonly lastPage: number;
}

/**
 * Every page of a window, in order, a few fetched ahead. Tencent pages by number
 * (docs/trtc-callbacks.md, section 7): the last page is the one `TotalNum` implies, re-read from each
 * reply; without `TotalNum`, a full page asks for the next. An empty page (v4: `Page` 0) ends it.
 * Stopping early (or an error) aborts the pages fetched ahead.
 */
export async function* recordPages(client: Pick<RecordsClient, 'fetchPage'>, window: RecordWindow, signal?: AbortSignal): AsyncGenerator<NumberedPage> {
  const local = new AbortController();
  const linked = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
  const ahead = new Map<number, Promise<RecordsPage>>();
  let next = 1;
  let last = 1;
  try {
    for (let n = 1; n <= last && n <= MAX_PAGES; n++) {
      for (; next <= last && next < n + PREFETCH; next++) {
        const fetching = client.fetchPage(window, next, linked);
        fetching.catch(() => undefined); // awaited below, or abandoned when the pull stops
        ahead.set(next, fetching);
      }
      const page = await (ahead.get(n) as Promise<RecordsPage>);
      ahead.delete(n);
      if (page.records.length === 0) return;
      const full = page.records.length >= PAGE_SIZE;
      last = Math.max(last, page.totalNum !== null ? Math.ceil(page.totalNum / PAGE_SIZE) : full ? n + 1 : n);
      yield { ...page, number: n, lastPage: last };
    }
  } finally {
    local.abort();
  }
}
