/** One scrape of `/metrics`: every sample as its name, labels and value. */
export interface Scrape {
  readonly samples: readonly { name: string; labels: Record<string, string>; value: number }[];
  /** The sum of the samples called `name` whose labels include `labels` (0 when none). */
  value(name: string, labels?: Record<string, string>): number;
  /** True when some sample is called `name`. */
  has(name: string): boolean;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text format. */
export function parseScrape(text: string): Scrape {
  const samples = text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const m = LINE.exec(line);
      if (!m) throw new Error(`metrics: expected a sample line, got ${JSON.stringify(line)}`);
      const labels: Record<string, string> = {};
      for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      return { name: m[1], labels, value: Number(m[3]) };
    });
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    value: (name, labels = {}) => matching(name, labels).reduce((sum, s) => sum + s.value, 0),
    has: (name) => samples.some((s) => s.name === name),
  };
}

/** GETs and parses `<baseUrl>/metrics`. */
export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`metrics: expected 200, got ${res.status}`);
  return parseScrape(await res.text());
}

/** Scrapes until `done` holds (a sampled database read may lag a scrape by its TTL); returns the last scrape. */
export async function scrapeUntil(baseUrl: string, done: (s: Scrape) => boolean, ms = 5000): Promise<Scrape> {
  const until = Date.now() + ms;
  for (;;) {
    const s = await scrape(baseUrl);
    if (done(s) || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}
