import { rebuiltState } from './run-reconciler';

describe('rebuiltState', () => {
  it('claims the lowest unfinished batches, up to the window, and moves the cursor past the last one', () => {
    expect(rebuiltState(10, 3, [1, 2, 4], [5])).toEqual({
      total: 10,
      next: 8,
      completed: [1, 2, 4],
      failed: [5],
      inflight: [3, 6, 7],
    });
  });

  it('runs every batch again when none had finished (a run lost before its first batch ended)', () => {
    expect(rebuiltState(4, 2, [], [])).toMatchObject({ next: 3, inflight: [1, 2] });
  });

  it('claims what is left when fewer batches than the window remain', () => {
    expect(rebuiltState(4, 6, [1, 3], [])).toMatchObject({ next: 5, inflight: [2, 4] });
  });

  it('claims nothing when every batch has finished, so the run can be ended', () => {
    expect(rebuiltState(3, 2, [1, 3], [2])).toMatchObject({ next: 4, inflight: [] });
  });

  it('keeps every batch below the cursor finished or in flight, as the run state scripts expect', () => {
    const completed = [2, 3, 7, 8, 9];
    const state = rebuiltState(12, 4, completed, [5]);
    for (let seq = 1; seq < state.next; seq++) {
      expect(completed.includes(seq) || seq === 5 || state.inflight.includes(seq)).toBe(true);
    }
    expect(state.inflight).toEqual([1, 4, 6, 10]);
  });
});
