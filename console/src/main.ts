import { renderBoard } from './board-view';
import { hourly, summary, type HourPoint } from './chart';
import { renderChart } from './chart-view';
import { byId } from './dom';
import { prependEvent } from './feed-view';
import { toFilters } from './filters';
import type { Tone } from './live';
import { FEED_MAX, Session, type SessionView } from './session';

/** The key stays in this tab only (sessionStorage), never in the page or the URL. */
const KEY_STORAGE = 'calltrail.apiKey';

const ui = {
  keyForm: byId<HTMLFormElement>('key-form'),
  keyInput: byId<HTMLInputElement>('api-key'),
  forget: byId<HTMLButtonElement>('forget-key'),
  filterForm: byId<HTMLFormElement>('filters'),
  app: byId<HTMLInputElement>('filter-app'),
  user: byId<HTMLInputElement>('filter-user'),
  media: byId<HTMLSelectElement>('filter-media'),
  status: byId<HTMLElement>('status'),
  feedRows: byId<HTMLTableSectionElement>('feed-rows'),
  boardRows: byId<HTMLTableSectionElement>('board-rows'),
  boardEmpty: byId<HTMLElement>('board-empty'),
  chart: document.getElementById('chart') as unknown as SVGSVGElement,
  chartSummary: byId<HTMLElement>('chart-summary'),
};

let session: Session | null = null;

function showStatus(text: string, tone: Tone): void {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

function showStats(points: readonly HourPoint[]): void {
  renderChart(ui.chart, points);
  ui.chartSummary.textContent = summary(points);
}

const view: SessionView = {
  eventAdded: (event) => prependEvent(ui.feedRows, event, FEED_MAX),
  feedCleared: () => ui.feedRows.replaceChildren(),
  boardChanged: (calls) => renderBoard(ui.boardRows, ui.boardEmpty, calls),
  statsChanged: showStats,
  status: showStatus,
  stopped: (message) => showStatus(message, 'error'),
};

function clearViews(): void {
  ui.feedRows.replaceChildren();
  renderBoard(ui.boardRows, ui.boardEmpty, []);
  showStats(hourly([]));
}

/** Starts a session with the stored key and the filters in the form (again, from scratch). */
function connect(): void {
  session?.stop();
  session = null;
  clearViews();
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key === null) return showStatus('Enter an API key to connect.', 'warn');
  const filters = toFilters({ app: ui.app.value, user: ui.user.value, media: ui.media.value });
  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
  session = new Session(key, filters, view, wsUrl);
  void session.start();
}

ui.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = ui.keyInput.value.trim();
  if (key === '') return showStatus('Enter an API key to connect.', 'warn');
  sessionStorage.setItem(KEY_STORAGE, key);
  ui.keyInput.value = '';
  ui.keyInput.placeholder = 'Stored for this tab';
  connect();
});

ui.forget.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  session?.stop();
  session = null;
  clearViews();
  ui.keyInput.placeholder = '';
  showStatus('Key forgotten. Enter an API key to connect.', 'warn');
});

ui.filterForm.addEventListener('submit', (e) => {
  e.preventDefault();
  connect();
});

// Ringing and talk times tick.
setInterval(() => session && renderBoard(ui.boardRows, ui.boardEmpty, session.board.list()), 1000);

if (sessionStorage.getItem(KEY_STORAGE) !== null) ui.keyInput.placeholder = 'Stored for this tab';
connect();
