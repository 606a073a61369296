import { halvesOf, medianOf } from './batch-split';

describe('batch split helpers', () => {
  it('medianOf: the middle value, the mean of the two middle ones, undefined for none', () => {
    expect(medianOf([])).toBeUndefined();
    expect(medianOf([4])).toBe(4);
    expect(medianOf([1, 2, 9])).toBe(2);
    expect(medianOf([1, 2, 4, 9])).toBe(3);
  });

  it('halvesOf: two halves in order, the first larger when odd, no empty half', () => {
    expect(halvesOf(['a', 'b', 'c', 'd', 'e'])).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    expect(halvesOf(['a'])).toEqual([['a']]);
    expect(halvesOf([])).toEqual([]);
  });
});
