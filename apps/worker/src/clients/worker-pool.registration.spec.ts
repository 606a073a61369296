import { Logger } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import type { Notifier } from '@nso/events';
import type { Client, ClientRepository, PoolBeat, PoolRegistration } from '@nso/persistence';
import type { ClientBatchQueues } from '@nso/runs';
import { poolHeartbeatIntervalMs, WorkerPoolRegistration } from './worker-pool.registration';

function setup(registration: PoolRegistration, env: Record<string, string> = {}) {
  const beats: PoolBeat[] = [];
  const clients = {
    registerPool: async (beat: PoolBeat) => {
      beats.push(beat);
      return registration;
    },
  };
  const queues = { queue: () => ({ getJobCounts: async () => ({ active: 2 }) }) };
  const notices: string[] = [];
  const notifier = { notifyAdmins: async (n: { message: string }) => void notices.push(n.message) };
  const config = loadConfig({ WORKER_CLIENT_ID: 'lab-pool', WORKER_SCAN_RANGE: '127.0.0.0/24', ...env });
  const registrar = new WorkerPoolRegistration(
    clients as unknown as ClientRepository,
    config,
    queues as unknown as ClientBatchQueues,
    notifier as unknown as Notifier,
  );
  const warnings = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  return { registrar, beats, notices, warnings };
}

afterEach(() => jest.restoreAllMocks());

const pool = (fields: Partial<Client>) =>
  ({
    clientId: 'lab-pool',
    kind: 'pool',
    hostname: 'w1',
    sourceIp: null,
    isApproved: false,
    ...fields,
  }) as Client;

describe('WorkerPoolRegistration', () => {
  it("beats with the pool's id, range and the batches its queue runs", async () => {
    const { registrar, beats, notices } = setup({ kind: 'refreshed' }, { WORKER_AUTO_APPROVE: 'false' });
    await registrar.beat();
    expect(beats).toEqual([
      expect.objectContaining({
        clientId: 'lab-pool',
        scanRange: ['127.0.0.0/24'],
        activeScans: 2,
        autoApprove: false,
      }),
    ]);
    expect(notices).toEqual([]);
  });

  it('tells the admins of a pool it created unapproved, not of an approved one', async () => {
    const unapproved = setup({ kind: 'created', client: pool({}) });
    await unapproved.registrar.beat();
    expect(unapproved.notices).toEqual(['Worker pool lab-pool (w1) is awaiting approval']);
    const approved = setup({ kind: 'created', client: pool({ isApproved: true }) });
    await approved.registrar.beat();
    expect(approved.notices).toEqual([]);
  });

  it("tells the admins when it took an unapproved agent's id over", async () => {
    const { registrar, notices, warnings } = setup(
      { kind: 'taken-over', holder: pool({ kind: 'agent', sourceIp: '127.0.0.9' }) },
      { WORKER_AUTO_APPROVE: 'false' },
    );
    await registrar.beat();
    expect(warnings).toHaveBeenCalledWith(
      expect.stringMatching(/held by an unapproved HTTP agent \(last from 127\.0\.0\.9\)/),
    );
    expect(notices).toEqual(['Worker pool lab-pool (w1) from 127.0.0.9 is awaiting approval']);
  });

  it("logs once, not at every beat, that an approved agent holds the pool's id", async () => {
    const { registrar, warnings } = setup({ kind: 'held-by-agent' });
    await registrar.beat();
    await registrar.beat();
    expect(warnings).toHaveBeenCalledTimes(1);
    expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/already an approved HTTP agent's id/));
  });

  it('beats three times per CLIENT_OFFLINE_AFTER, at most once a minute', () => {
    expect(poolHeartbeatIntervalMs(180_000)).toBe(60_000);
    expect(poolHeartbeatIntervalMs(30_000)).toBe(10_000);
    expect(poolHeartbeatIntervalMs(300)).toBe(250);
  });
});
