import {
  acceptedByText,
  changeVerdictText,
  compareAddresses,
  confirmedCountsText,
  deltaSections,
  differenceText,
  MAX_TABLE_CHANGES,
  reportVerificationText,
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

describe('change verdicts (issue 21)', () => {
  it("says the rescan's verdict with its symbol", () => {
    expect(changeVerdictText({ verification: 'confirmed', flapping: false }, 'done')).toBe('✓ confirmed');
    expect(changeVerdictText({ verification: 'not_confirmed', flapping: false }, 'done')).toBe(
      '✗ not confirmed (flap)',
    );
    expect(changeVerdictText({ verification: 'unverifiable', flapping: false }, 'done')).toBe(
      '? unverifiable',
    );
  });
  it('names a flapping change whatever its verification', () => {
    expect(changeVerdictText({ verification: null, flapping: true }, 'pending')).toBe('≈ flapping');
    expect(changeVerdictText({ verification: null, flapping: true }, null)).toBe('≈ flapping');
  });
  it('waits for a pending rescan, and shows a dash when the report is not verified', () => {
    expect(changeVerdictText({ verification: null, flapping: false }, 'pending')).toBe('pending rescan');
    expect(changeVerdictText({ verification: null, flapping: false }, null)).toBe('—');
    // A report stored before the marks: no fields at all.
    expect(changeVerdictText({}, null)).toBe('—');
  });
  it('adds the exposure and who accepted it', () => {
    const at = '2026-12-07T06:10:00.000Z';
    expect(
      changeVerdictText(
        { verification: 'confirmed', exposure: 'unexpected', accepted: { by: 1, by_username: 'admin', at } },
        'done',
      ),
    ).toBe('✓ confirmed · unexpected · accepted by admin');
    expect(changeVerdictText({ verification: null, exposure: 'missing' }, null)).toBe('— · missing');
    expect(changeVerdictText({ accepted: { by: 7, by_username: null, at } }, null)).toBe(
      '— · accepted by a deleted user',
    );
  });
  it("names the acceptance of the report's lists ({by, at}) by the signed-in user when it is theirs", () => {
    const at = '2026-12-07T06:10:00.000Z';
    const me = { id: 1, username: 'admin' };
    expect(changeVerdictText({ verification: 'confirmed', accepted: { by: 1, at } }, 'done', me)).toBe(
      '✓ confirmed · accepted by admin',
    );
    expect(acceptedByText({ by: 2, at }, me)).toBe('user #2');
    expect(acceptedByText({ by: 2, at })).toBe('user #2');
    expect(acceptedByText({ by: null, at }, me)).toBe('a deleted user');
  });
  it("says the report's verification", () => {
    expect(reportVerificationText({ status: 'pending', result_id: null })).toBe('Rescan pending');
    expect(reportVerificationText({ status: 'done', result_id: 41 })).toBe('Verified by run #41');
    expect(reportVerificationText({ status: null, result_id: null })).toBe('Not verified');
    expect(reportVerificationText(undefined)).toBe('Not verified');
    expect(reportVerificationText({ status: 'done', result_id: null })).toBe('Not verified (no rescan ran)');
  });
  it('lists the confirmed counts with their signs', () => {
    expect(
      confirmedCountsText({
        confirmed_new_ports_count: 1,
        confirmed_closed_ports_count: 0,
        confirmed_changed_services_count: 2,
        confirmed_new_hosts_count: 0,
        confirmed_removed_hosts_count: 3,
      }),
    ).toBe('+ 1 new ports · − 0 closed ports · ~ 2 changed services · + 0 hosts up · − 3 hosts down');
    expect(confirmedCountsText({})).toBe(
      '+ 0 new ports · − 0 closed ports · ~ 0 changed services · + 0 hosts up · − 0 hosts down',
    );
  });
});
