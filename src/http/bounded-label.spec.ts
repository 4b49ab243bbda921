import { ANONYMOUS, BoundedLabel, OTHER } from './bounded-label';

describe('BoundedLabel', () => {
  it('keeps the first distinct values up to the cap and turns every later one into "other"', () => {
    const label = new BoundedLabel(2);
    expect(['A', 'B', 'C', 'A', 'D', 'B'].map((v) => label.value(v))).toEqual(['A', 'B', OTHER, 'A', OTHER, 'B']);
  });

  it.each([[null], [undefined], ['']])('names a missing value (%p) with its fallback, which does not count against the cap', (raw) => {
    const label = new BoundedLabel(1);
    expect(label.value(raw)).toBe(ANONYMOUS);
    expect(label.value('Calls')).toBe('Calls');
  });

  it('counts a value longer than 100 characters as "other"', () => {
    expect(new BoundedLabel(10).value('x'.repeat(101))).toBe(OTHER);
  });

  it('uses the fallback it was given', () => {
    expect(new BoundedLabel(1, 'none').value(undefined)).toBe('none');
  });
});
