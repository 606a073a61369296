import { BadRequestException, ForbiddenException, HttpException, NotFoundException } from '@nestjs/common';
import { loadConfig } from '@nso/config';
import type { Notifier } from '@nso/events';
import { ScanScope } from '@nso/nmap';
import {
  clientStatus,
  type AgentTask,
  type AgentTaskRepository,
  type Client,
  type ClientListFilter,
  type ClientPatch,
  type ClientRepository,
} from '@nso/persistence';
import type { AgentTasks, RunService } from '@nso/runs';
import { Clock } from '../rate-limit/clock';
import type { AuthUser } from '../users/current-user';
import { ClientAccess } from './client-access';
import type { ClientEnrolmentLimit } from './client-enrolment.limit';
import type { HeartbeatDto } from './clients.dto';
import { ClientsService } from './clients.service';

class FakeClock extends Clock {
  ms = Date.parse('2026-12-01T10:00:00Z');
  override now(): number {
    return this.ms;
  }
}

/** The clients table in memory, following ClientRepository's contract (updated_at moves when a value changes). */
class FakeClientRepository {
  rows: Client[] = [];
  private nextId = 1;

  constructor(private readonly clock: FakeClock) {}

  add(fields: Partial<Client> & { clientId: string }): Client {
    const now = new Date(this.clock.ms);
    const client = {
      id: this.nextId++,
      kind: 'agent',
      hostname: null,
      ipAddress: null,
      port: null,
      scanRange: [],
      status: 'online',
      activeScans: 0,
      capabilities: null,
      systemInfo: null,
      isApproved: false,
      approvedIp: null,
      approvedAt: null,
      isEnabled: true,
      sourceIp: null,
      lastSeen: null,
      refusedIp: null,
      refusedAt: null,
      refusedCount: 0,
      createdAt: now,
      updatedAt: now,
      ...fields,
    } as Client;
    this.rows.push(client);
    return client;
  }
  row(clientId: string): Client | undefined {
    return this.rows.find((c) => c.clientId === clientId);
  }

  async findByClientId(clientId: string) {
    const row = this.row(clientId);
    return row ? { ...row } : null;
  }
  async enrolAgent(clientId: string, fields: ClientPatch, now: Date) {
    if (this.row(clientId)) return { client: { ...this.row(clientId)! }, created: false };
    const status = (fields.activeScans ?? 0) > 0 ? 'scanning' : 'online';
    return { client: { ...this.add({ clientId, ...fields, status, createdAt: now }) }, created: true };
  }
  async removeUnapproved(id: number) {
    this.rows = this.rows.filter((c) => c.id !== id || c.isApproved);
  }
  async remove(id: number) {
    this.rows = this.rows.filter((c) => c.id !== id);
  }
  async recordRefusal(client: Pick<Client, 'id' | 'refusedCount'>, source: string, now: Date) {
    const row = this.rows.find((c) => c.id === client.id)!;
    Object.assign(row, { refusedIp: source, refusedAt: now, refusedCount: client.refusedCount + 1 });
  }
  async update(id: number, patch: ClientPatch) {
    const row = this.rows.find((c) => c.id === id);
    if (!row) return null;
    const changed = Object.entries(patch).some(
      ([key, value]) => JSON.stringify(row[key as keyof Client]) !== JSON.stringify(value),
    );
    Object.assign(row, patch, changed ? { updatedAt: new Date(this.clock.ms) } : {});
    return { ...row };
  }
  async page(filter: ClientListFilter, window: { limit: number; offset: number }) {
    const matching = this.rows.filter(
      (c) =>
        (!filter.status || clientStatus(c, filter.now, filter.offlineAfterMs) === filter.status) &&
        (filter.isApproved === undefined || c.isApproved === filter.isApproved) &&
        (!filter.kind || c.kind === filter.kind),
    );
    return { clients: matching.slice(window.offset, window.offset + window.limit), total: matching.length };
  }
}

const admin = { id: 1, username: 'admin', role: 'admin' } as AuthUser;
const user = { id: 2, username: 'user', role: 'user' } as AuthUser;
const beat = (fields: Partial<HeartbeatDto> = {}): HeartbeatDto => ({
  hostname: 'scanner-01',
  ip_address: '127.0.0.2',
  port: 8080,
  scan_range: '127.0.0.0/24',
  ...fields,
});

function setup() {
  const clock = new FakeClock();
  const clients = new FakeClientRepository(clock);
  const revoked: Array<[string, string | undefined]> = [];
  const announced: string[] = [];
  const notices: string[] = [];
  const enrolment = { refuse: false, admit: async () => undefined as void };
  enrolment.admit = async () => {
    if (enrolment.refuse) throw new HttpException({ error: 'Too many new clients from this address' }, 429);
  };
  const tasks: AgentTask[] = [];
  const config = loadConfig({ CLIENT_OFFLINE_AFTER: '60' });
  const service = new ClientsService(
    clients as unknown as ClientRepository,
    new ClientAccess(clients as unknown as ClientRepository),
    new ScanScope(['127.0.0.0/8', '::1/128'], []),
    enrolment as unknown as ClientEnrolmentLimit,
    clock,
    config,
    {
      clientRevoked: async (id: string, why?: string) => void revoked.push([id, why]),
    } as unknown as RunService,
    { announceApproval: async (id: string) => void announced.push(id) } as unknown as AgentTasks,
    { recentOfClient: async () => tasks } as unknown as AgentTaskRepository,
    { notifyAdmins: async (n: { message: string }) => void notices.push(n.message) } as unknown as Notifier,
  );
  /** An approved agent bound to 127.0.0.2, as after a heartbeat and an admin's approval. */
  const approved = () =>
    clients.add({
      clientId: 'agent-1',
      hostname: 'scanner-01',
      ipAddress: '127.0.0.2',
      port: 8080,
      scanRange: ['127.0.0.0/24'],
      isApproved: true,
      approvedIp: '127.0.0.2',
      approvedAt: new Date(clock.ms),
      sourceIp: '127.0.0.2',
      lastSeen: new Date(clock.ms),
    });
  return { clock, clients, revoked, announced, notices, enrolment, tasks, service, approved };
}

describe('ClientsService heartbeats', () => {
  it('enrols a new id unapproved, answers 403 awaiting approval and tells the admins', async () => {
    const { clients, notices, service } = setup();
    const outcome = await service.heartbeat('agent-1', beat({ active_scans: [1, 2] }), '127.0.0.9');
    expect(outcome).toEqual({
      httpStatus: 403,
      body: { status: 'success', message: 'Client updated but awaiting approval', approved: false },
    });
    expect(clients.row('agent-1')).toMatchObject({
      kind: 'agent',
      isApproved: false,
      status: 'scanning',
      activeScans: 2,
      sourceIp: '127.0.0.9',
      scanRange: ['127.0.0.0/24'],
    });
    expect(notices).toEqual(['Client agent-1 (scanner-01) from 127.0.0.9 is awaiting approval']);
  });

  it('takes the new row back when the source network enrolled too many', async () => {
    const { clients, enrolment, notices, service } = setup();
    enrolment.refuse = true;
    await expect(service.heartbeat('agent-1', beat(), '127.0.0.9')).rejects.toMatchObject({ status: 429 });
    expect(clients.rows).toEqual([]);
    expect(notices).toEqual([]);
  });

  it("refuses a body client_id other than the URL's", async () => {
    const { service } = setup();
    await expect(
      service.heartbeat('agent-1', beat({ client_id: 'other' }), '127.0.0.9'),
    ).rejects.toBeInstanceOf(BadRequestException);
  });

  it('answers an approved agent 200 and lists the part of its range outside the scope', async () => {
    const { clients, clock, service, approved } = setup();
    approved();
    clock.ms += 1000;
    const outcome = await service.heartbeat(
      'agent-1',
      beat({ scan_range: '127.0.0.0/24,10.0.0.0/30' }),
      '127.0.0.2',
    );
    // A new range needs a new approval: the answer says so, and lists what is outside the scope.
    expect(outcome).toEqual({
      httpStatus: 403,
      body: {
        status: 'success',
        message: 'Client updated but awaiting approval',
        approved: false,
        scan_range_outside_scope: ['10.0.0.0/30'],
      },
    });
    const same = setup();
    same.approved();
    await expect(same.service.heartbeat('agent-1', beat(), '127.0.0.2')).resolves.toEqual({
      httpStatus: 200,
      body: { status: 'success', message: 'Client updated successfully', approved: true },
    });
    expect(clients.row('agent-1')!.lastSeen).toEqual(new Date(clock.ms));
  });

  it('withdraws the approval of an agent that moved, and hands its open work on', async () => {
    const { clients, revoked, service, approved } = setup();
    approved();
    await service.heartbeat('agent-1', beat({ port: 9090 }), '127.0.0.2');
    expect(clients.row('agent-1')).toMatchObject({
      isApproved: false,
      approvedIp: null,
      approvedAt: null,
      port: 9090,
    });
    expect(revoked).toEqual([
      ['agent-1', 'agent agent-1 changed its address, port or scan_range and must be approved again'],
    ]);
  });

  it('refuses an approved agent heard from another address, and records the refusal', async () => {
    const { clients, clock, service, approved } = setup();
    approved();
    const refusal = await service.heartbeat('agent-1', beat(), '127.0.0.66').catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ForbiddenException);
    expect((refusal as ForbiddenException).getResponse()).toEqual({
      error: 'Unauthorized',
      reason: 'request from an address other than the one this client is bound to',
    });
    expect(clients.row('agent-1')).toMatchObject({
      refusedIp: '127.0.0.66',
      refusedAt: new Date(clock.ms),
      refusedCount: 1,
      sourceIp: '127.0.0.2',
    });
  });

  it('refuses a worker pool over HTTP', async () => {
    const { clients, service } = setup();
    clients.add({ clientId: 'local', kind: 'pool', isApproved: true });
    await expect(service.heartbeat('local', beat(), '127.0.0.2')).rejects.toMatchObject({
      response: { error: 'Unauthorized', reason: expect.stringMatching(/worker pool/) },
    });
  });

  it('leaves a client that just said it goes offline offline for a heartbeat sent before', async () => {
    const { clients, clock, service, approved } = setup();
    approved();
    clock.ms += 1000;
    await service.update('agent-1', { status: 'offline' }, { source: '127.0.0.2' });
    clock.ms += 2000;
    await service.heartbeat('agent-1', beat(), '127.0.0.2');
    expect(clients.row('agent-1')!.status).toBe('offline');
    clock.ms += 5000;
    await service.heartbeat('agent-1', beat(), '127.0.0.2');
    expect(clients.row('agent-1')!.status).toBe('online');
  });
});

describe('ClientsService admin', () => {
  it('approves an agent, binding it to the address of its last request, and tells it', async () => {
    const { clients, announced, service } = setup();
    await service.heartbeat('agent-1', beat(), '127.0.0.9');
    const answer = await service.approve('agent-1');
    expect(answer).toMatchObject({
      status: 'success',
      message: 'Client approved successfully',
      client: { client_id: 'agent-1', is_approved: true, approved_ip: '127.0.0.9', status: 'online' },
    });
    expect(clients.row('agent-1')!.approvedIp).toBe('127.0.0.9');
    expect(announced).toEqual(['agent-1']);
  });

  it('revokes, toggles and deletes, handing the open work on each time', async () => {
    const { clients, revoked, service, approved } = setup();
    approved();
    await expect(service.toggle('agent-1')).resolves.toMatchObject({
      message: 'Client marked as offline',
      client: { is_enabled: false, status: 'offline' },
    });
    await expect(service.toggle('agent-1')).resolves.toMatchObject({ message: 'Client marked as online' });
    await expect(service.revoke('agent-1')).resolves.toMatchObject({
      message: 'Client approval revoked successfully',
      client: { is_approved: false, approved_ip: null },
    });
    await expect(service.remove('agent-1')).resolves.toEqual({
      status: 'success',
      message: 'Client deleted successfully',
      client_id: 'agent-1',
    });
    expect(clients.rows).toEqual([]);
    expect(revoked).toEqual([
      ['agent-1', 'client agent-1 was disabled'],
      ['agent-1', undefined],
      ['agent-1', 'client agent-1 was deleted'],
    ]);
    await expect(service.approve('agent-1')).rejects.toBeInstanceOf(NotFoundException);
  });

  it('lets only an admin or the agent itself, from its address, change a client', async () => {
    const { clients, service } = setup();
    await service.heartbeat('agent-1', beat(), '127.0.0.9');
    await expect(
      service.update('agent-1', { hostname: 'x' }, { user, source: '127.0.0.9' }),
    ).rejects.toBeInstanceOf(ForbiddenException);
    await expect(
      service.update('agent-1', { hostname: 'x' }, { source: '127.0.0.10' }),
    ).rejects.toBeInstanceOf(ForbiddenException);
    await expect(
      service.update(
        'agent-1',
        { hostname: 'renamed', scan_range: '127.0.1.0/24' },
        { user: admin, source: '10.1.1.1' },
      ),
    ).resolves.toMatchObject({
      message: 'Client updated successfully',
      client: { hostname: 'renamed', scan_range: '127.0.1.0/24' },
    });
    expect(clients.row('agent-1')!.hostname).toBe('renamed');
  });

  it('shows the address binding and task ids to admins only', async () => {
    const { tasks, service, approved } = setup();
    approved();
    const at = new Date('2026-12-01T09:00:00Z');
    tasks.push({
      taskId: 't-1',
      scanId: 3,
      result: { id: 7 },
      seq: 1,
      status: 'running',
      targets: ['127.0.0.1', '127.0.0.2'],
      createdAt: at,
      deadline: at,
      finishedAt: null,
      error: null,
    } as unknown as AgentTask);
    const forAdmin = await service.details('agent-1', admin);
    expect(forAdmin.client).toMatchObject({ approved_ip: '127.0.0.2', refused_count: 0 });
    expect(forAdmin.recent_tasks).toEqual([
      {
        task_id: 't-1',
        scan_id: 3,
        result_id: 7,
        batch_id: 1,
        status: 'running',
        targets: 2,
        created_at: at.toISOString(),
        deadline: at.toISOString(),
        finished_at: null,
        error: null,
      },
    ]);
    const forUser = await service.details('agent-1', user);
    expect(forUser.client).not.toHaveProperty('approved_ip');
    expect(forUser.recent_tasks[0]).not.toHaveProperty('task_id');
    await expect(service.details('nobody', admin)).rejects.toBeInstanceOf(NotFoundException);
  });

  it('lists clients by the status rule, approval and kind, a page at a time', async () => {
    const { clients, clock, service, approved } = setup();
    approved();
    clients.add({ clientId: 'silent', lastSeen: new Date(clock.ms - 120_000) });
    clients.add({ clientId: 'local', kind: 'pool', isApproved: true, lastSeen: new Date(clock.ms) });
    const offline = await service.list({ status: 'offline' });
    expect(offline.clients.map((c) => c.client_id)).toEqual(['silent']);
    const pools = await service.list({ kind: 'pool', is_approved: true });
    expect(pools).toMatchObject({
      total: 1,
      clients: [{ client_id: 'local', kind: 'pool', status: 'online' }],
    });
    const page = await service.list({ per_page: 2, page: 2 });
    expect(page).toMatchObject({ total: 3, page: 2, per_page: 2, has_prev: true, has_next: false });
    expect(page.clients.map((c) => c.client_id)).toEqual(['local']);
  });
});
