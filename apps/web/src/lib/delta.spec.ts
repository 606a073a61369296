import {
  compareAddresses,
  deltaSections,
  differenceText,
  MAX_TABLE_CHANGES,
  unverifiedReasonText,
} from './delta';

const port = (host: string, p: number) => ({
  host,
  protocol: 'tcp',
  port: p,
  state: 'open',
  service: null,
  product: null,
  version: null,
  extrainfo: null,
});

describe('delta sections', () => {
  it('keeps unverified apart from removed and counts only changes', () => {
    const s = deltaSections({
      added_ports: [port('127.0.0.10', 80), port('127.0.0.9', 443), port('127.0.0.9', 22)],
      removed_ports: [port('127.0.0.1', 25)],
      unverified: [
        {
          host: '127.0.0.1',
          protocol: 'tcp',
          port: 8080,
          baseline_state: 'open',
          reason: 'port_not_scanned',
        },
      ],
      comparable: true,
      differences: [],
    });
    expect(s.addedPorts.map((p) => `${p.host}:${p.port}`)).toEqual([
      '127.0.0.9:22',
      '127.0.0.9:443',
      '127.0.0.10:80',
    ]);
    expect(s.removedPorts).toHaveLength(1);
    expect(s.unverified).toHaveLength(1);
    expect(s.changeCount).toBe(4);
    expect(s.comparable).toBe(true);
    expect(s.tooLarge).toBe(false);
  });
  it('treats a missing delta as empty and comparable', () => {
    expect(deltaSections(undefined)).toMatchObject({ changeCount: 0, comparable: true, unverified: [] });
  });
  it('switches to counts above the table limit', () => {
    const many = Array.from({ length: MAX_TABLE_CHANGES + 1 }, (_, i) => port('127.0.0.1', i + 1));
    expect(deltaSections({ added_ports: many }).tooLarge).toBe(true);
  });
  it('says every unverified reason in words', () => {
    const base = { baseline_state: 'open' };
    expect(unverifiedReasonText({ ...base, reason: 'port_not_scanned' })).toBe('port not scanned');
    expect(unverifiedReasonText({ ...base, reason: 'batch_failed' })).toBe('batch failed or stopped');
    expect(unverifiedReasonText({ ...base, reason: 'not_targeted' })).toBe('not a target of this run');
    expect(unverifiedReasonText({ ...base, reason: 'port_coverage_unknown' })).toBe(
      'port list differs (top-N)',
    );
    expect(unverifiedReasonText({ ...base, current_state: 'open|filtered', reason: 'state_ambiguous' })).toBe(
      'open → open|filtered',
    );
    expect(unverifiedReasonText({ ...base, reason: 'some_new_reason' })).toBe('some new reason');
  });
  it('says an option difference in words', () => {
    expect(differenceText({ option: 'ports', baseline: 'tcp:top 1000', current: 'tcp:top 100' })).toBe(
      'ports: tcp:top 1000 → tcp:top 100',
    );
  });
  it('orders IPv4 numerically and other addresses after', () => {
    expect(['::1', '127.0.0.10', '127.0.0.9'].sort(compareAddresses)).toEqual([
      '127.0.0.9',
      '127.0.0.10',
      '::1',
    ]);
  });
});
