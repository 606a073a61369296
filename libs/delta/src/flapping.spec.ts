import { DEFAULT_FLAP_POLICY, judgeFlapping } from './flapping';

const O = true;
const C = false;

describe('judgeFlapping', () => {
  it('a port that changed once (opened and stays) is not flapping', () => {
    expect(judgeFlapping([C, C, C, O])).toEqual({
      flapping: false,
      transitions: 1,
      stableRuns: 1,
      heldBefore: 3,
    });
  });

  it('a port that toggles every run is flapping once it changed threshold times', () => {
    expect(judgeFlapping([O, C, O]).flapping).toBe(false);
    expect(judgeFlapping([O, C, O, C])).toEqual({
      flapping: true,
      transitions: 3,
      stableRuns: 1,
      heldBefore: 1,
    });
  });

  it('stays flapping until one state holds for threshold runs in a row, then is stable again', () => {
    expect(judgeFlapping([O, C, O, C, C]).flapping).toBe(true);
    expect(judgeFlapping([O, C, O, C, C, C])).toEqual({
      flapping: false,
      transitions: 3,
      stableRuns: 3,
      heldBefore: 0,
    });
  });

  it('announces the change of a port that held its state threshold runs, with the old toggles still in the window', () => {
    // Window 5, threshold 2: toggled, then closed three runs in a row, now open again.
    const policy = { window: 5, threshold: 2 };
    expect(judgeFlapping([O, C, O, C, C, C, O], policy)).toMatchObject({ flapping: false, heldBefore: 3 });
    // Closed only one run before opening again: still flapping.
    expect(judgeFlapping([O, C, O, C, O], policy)).toMatchObject({ flapping: true, heldBefore: 1 });
  });

  it('reads only the last window observations', () => {
    // The last 10 of 14: O C C C C C C C C O.
    const old = [O, C, O, C, O, C];
    expect(judgeFlapping([...old, C, C, C, C, C, C, C, O], DEFAULT_FLAP_POLICY)).toEqual({
      flapping: false,
      transitions: 2,
      stableRuns: 1,
      heldBefore: 8,
    });
    expect(judgeFlapping([O, C, O, C], { window: 3, threshold: 3 }).flapping).toBe(false);
  });

  it('an empty history is not flapping', () => {
    expect(judgeFlapping([])).toEqual({ flapping: false, transitions: 0, stableRuns: 0, heldBefore: 0 });
  });

  it('refuses a policy that is not positive integers', () => {
    expect(() => judgeFlapping([O], { window: 0, threshold: 3 })).toThrow(
      'window must be a positive integer',
    );
    expect(() => judgeFlapping([O], { window: 10, threshold: 1.5 })).toThrow('threshold');
  });
});
