import { hourly, startOfDay, summary } from './chart';

/** An instant at `hour`:00 local time today (the buckets of callStats in the browser's zone). */
const at = (hour: number) => new Date(2024, 0, 8, hour).toISOString();

describe('hourly', () => {
  it('gives 24 hours, with the answer rate only where there were calls', () => {
    const points = hourly([
      { bucket: at(9), calls: 4, answered: 3, answerRate: 0.75 },
      { bucket: at(14), calls: 2, answered: 0, answerRate: 0 },
    ]);
    expect(points).toHaveLength(24);
    expect(points[9]).toEqual({ hour: 9, calls: 4, answered: 3, answerRate: 0.75 });
    expect(points[14]).toEqual({ hour: 14, calls: 2, answered: 0, answerRate: 0 });
    expect(points[10]).toEqual({ hour: 10, calls: 0, answered: 0, answerRate: null });
  });

  it('sums two buckets that fall on the same local hour', () => {
    const points = hourly([
      { bucket: at(2), calls: 1, answered: 1, answerRate: 1 },
      { bucket: new Date(2024, 0, 8, 2, 30).toISOString(), calls: 1, answered: 0, answerRate: 0 },
    ]);
    expect(points[2]).toEqual({ hour: 2, calls: 2, answered: 1, answerRate: 0.5 });
  });
});

describe('summary', () => {
  it('counts the day and its answer rate', () => {
    expect(summary(hourly([{ bucket: at(9), calls: 4, answered: 3, answerRate: 0.75 }]))).toBe('4 calls today, 75% answered.');
    expect(summary(hourly([{ bucket: at(9), calls: 1, answered: 0, answerRate: 0 }]))).toBe('1 call today, 0% answered.');
    expect(summary(hourly([]))).toBe('No calls today yet.');
  });
});

describe('startOfDay', () => {
  it('is local midnight of the same day', () => {
    expect(startOfDay(new Date(2024, 0, 8, 17, 45, 12))).toEqual(new Date(2024, 0, 8));
  });
});
