import { throttledLog } from './throttled-log';

describe('throttledLog', () => {
  it('logs the first error at once, then one line per interval with the count left out', () => {
    const lines: object[] = [];
    let t = 0;
    const log = throttledLog((obj) => lines.push(obj), 1000, () => t);
    for (t = 0; t < 3000; t += 10) log({ err: 'refused' }, 'ingest batch failed');
    expect(lines).toEqual([{ err: 'refused' }, { err: 'refused', suppressed: 99 }, { err: 'refused', suppressed: 99 }]);
  });
});
