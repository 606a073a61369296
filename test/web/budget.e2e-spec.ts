import {
  ALL_CHUNKS_BUDGET,
  describeWebSize,
  FIRST_LOAD_BUDGET,
  measureWebBuild,
} from '../../bench/web-budget';
import { WEB_DIST } from '../support/browser';

// The dashboard's size budget on the build the gateway serves (npm run build): printed, and failing above §7.
describe('the dashboard build', () => {
  it('stays within the first-load and all-chunks gzip budgets', () => {
    const size = measureWebBuild(WEB_DIST);
    console.log(`dashboard build (gzip -9):\n${describeWebSize(size)}`);
    expect(Object.keys(size.firstLoad).some((f) => f.endsWith('.js'))).toBe(true);
    expect(Object.keys(size.firstLoad).some((f) => f.endsWith('.css'))).toBe(true);
    expect(size.firstLoadTotal).toBeLessThanOrEqual(FIRST_LOAD_BUDGET);
    expect(size.allTotal).toBeLessThanOrEqual(ALL_CHUNKS_BUDGET);
  });
});
