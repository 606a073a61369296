import { ConflictException, ForbiddenException, NotFoundException } from '@nestjs/common';
import { Metrics } from '@nso/monitoring';
import type { AgentTask, AgentTaskRepository, Client, ClientRepository } from '@nso/persistence';
import type { RunService } from '@nso/runs';
import type { Request } from 'express';
import { Readable } from 'node:stream';
import { Clock } from '../rate-limit/clock';
import type { RunSummaries } from '../results/run-summary';
import { AgentFieldsMetric } from './agent-fields';
import { AgentResultsService, RESULTS_RETRY_WINDOW_MS } from './agent-results.service';
import { ClientAccess } from './client-access';

/** What RunService.agentResults takes. */
type AgentResultsInput = Parameters<RunService['agentResults']>[0];

const NOW = Date.parse('2026-12-01T10:00:00Z');

/** A POST's request as the reader sees it: a JSON body stream with its headers. */
function post(body: unknown, read = { count: 0 }): Request {
  const bytes = Buffer.from(JSON.stringify(body));
  const stream = Readable.from(
    (function* () {
      read.count++;
      yield bytes;
    })(),
  );
  return Object.assign(stream, {
    headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
  }) as unknown as Request;
}

function setup(client: Partial<Client> | null) {
  const row =
    client &&
    ({
      id: 1,
      clientId: 'agent-1',
      kind: 'agent',
      isApproved: true,
      isEnabled: true,
      approvedIp: '127.0.0.2',
      refusedCount: 0,
      ...client,
    } as Client);
  const refusals: string[] = [];
  const clients = {
    findByClientId: async () => row,
    recordRefusal: async (_c: unknown, source: string) => void refusals.push(source),
  };
  const capacityAsked: Date[] = [];
  const tasks = {
    capacity: 2 as number | undefined,
    intakeCapacity: async (_id: string, since: Date) => {
      capacityAsked.push(since);
      return tasks.capacity;
    },
    findByTaskId: async () =>
      ({ clientId: 'agent-1', scanId: 4, result: { id: 42 } }) as unknown as AgentTask,
  };
  const taken: AgentResultsInput[] = [];
  const runs = {
    agentResults: async (input: AgentResultsInput) => {
      taken.push(input);
      return { resultId: input.resultId };
    },
  };
  const summaries = { of: async (id: number) => ({ result_id: id }) };
  const service = new AgentResultsService(
    new ClientAccess(clients as unknown as ClientRepository),
    { now: () => NOW } as Clock,
    runs as unknown as RunService,
    tasks as unknown as AgentTaskRepository,
    new AgentFieldsMetric(new Metrics()),
    summaries as unknown as RunSummaries,
  );
  return { service, refusals, tasks, taken, capacityAsked };
}

const results = {
  result_id: 42,
  task_id: 't-1',
  status: 'completed',
  scan_id: '4',
  parsed_results: { '127.0.0.1': { state: 'up', open_ports: [22] } },
  summary_stats: { total_targets: 1 },
};

describe('AgentResultsService', () => {
  it('hands the hosts of a post to RunService and answers with the run summary', async () => {
    const { service, taken, capacityAsked } = setup({});
    await expect(service.results('agent-1', post(results), '127.0.0.2')).resolves.toEqual({
      message: 'Scan results received successfully',
      result_id: 42,
      summary: { result_id: 42 },
    });
    expect(taken).toEqual([
      expect.objectContaining({
        clientId: 'agent-1',
        resultId: 42,
        taskId: 't-1',
        status: 'completed',
        hosts: [
          expect.objectContaining({
            address: '127.0.0.1',
            state: 'up',
            ports: [expect.objectContaining({ port: 22 })],
          }),
        ],
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
    expect(capacityAsked).toEqual([new Date(NOW - RESULTS_RETRY_WINDOW_MS)]);
  });

  it.each([
    ['an unknown client', null, NotFoundException],
    ['a worker pool', { kind: 'pool' as const }, ForbiddenException],
    ['an unapproved agent', { isApproved: false }, ForbiddenException],
    ['a disabled agent', { isEnabled: false }, ForbiddenException],
  ])('refuses %s before reading the body', async (_what, client, error) => {
    const { service, taken } = setup(client);
    const read = { count: 0 };
    await expect(service.results('agent-1', post(results, read), '127.0.0.2')).rejects.toBeInstanceOf(error);
    expect(read.count).toBe(0);
    expect(taken).toEqual([]);
  });

  it('refuses, and records, a post from an address other than the approved one', async () => {
    const { service, refusals } = setup({});
    const read = { count: 0 };
    await expect(service.results('agent-1', post(results, read), '127.0.0.66')).rejects.toBeInstanceOf(
      ForbiddenException,
    );
    expect(refusals).toEqual(['127.0.0.66']);
    expect(read.count).toBe(0);
  });

  it('answers 409 before reading the body when no task waits for results', async () => {
    const { service, tasks } = setup({});
    tasks.capacity = undefined;
    const read = { count: 0 };
    const refusal = await service
      .results('agent-1', post(results, read), '127.0.0.2')
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ConflictException);
    expect((refusal as ConflictException).getResponse()).toEqual({
      error: 'This client has no task waiting for results',
      client_id: 'agent-1',
    });
    expect(read.count).toBe(0);
  });

  it.each([
    [{ ...results, client_id: 'other' }, "client_id in the body does not match the URL's client_id"],
    [{ ...results, scan_id: 5 }, 'scan_id is not the scan of this task'],
    [{ ...results, parsed_results: [] }, 'parsed_results must be an object keyed by address'],
  ])('refuses a body that is not this task’s (%#)', async (body, error) => {
    const { service, taken } = setup({});
    await expect(service.results('agent-1', post(body), '127.0.0.2')).rejects.toMatchObject({
      status: 400,
      response: expect.objectContaining({ error }),
    });
    expect(taken).toEqual([]);
  });
});
