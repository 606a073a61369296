// Scanner clients of seed 003 "Client Management": enrolment by heartbeat, approval, address binding, the
// admin's view, and an agent's results (checked here for who sends them; what they may hold is RunService's).
import { EntityManager, FilterQuery, UniqueConstraintViolationException } from '@mikro-orm/core';
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpStatus,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { noticeClientAwaitingApproval, Notifier } from '@nso/events';
import { ScanScope } from '@nso/nmap';
import { AgentTaskRepository, Client, clientStatus, clientStatusFilter } from '@nso/persistence';
import { AgentTasks, RunService } from '@nso/runs';
import type { Request } from 'express';
import { readJsonBody, resultsBodyLimit } from './agent-body.reader';
import { AgentFieldsMetric, validateAgentBody } from './agent-fields';
import { agentResultHosts, agentResultsDigest } from './agent-results';
import { RunSummaries } from '../results/run-summary';
import { pageFields, pageWindow } from '../common/pagination';
import { Clock } from '../rate-limit/clock';
import { AuthUser } from '../users/current-user';
import { ClientEnrolmentLimit } from './client-enrolment.limit';
import {
  ClientAnswerDto,
  ClientDetailsDto,
  ClientDto,
  ClientListDto,
  HeartbeatAnswerDto,
  HeartbeatDto,
  ListClientsQuery,
  parseScanRange,
  ResultsAnswerDto,
  SubmitResultsDto,
  UpdateClientDto,
} from './clients.dto';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** How many of a client's tasks its details show. */
const RECENT_TASKS = 10;

const DEFAULT_PER_PAGE = 50;

/**
 * How long after a task ended its agent may still post to it: a retry of results already taken (answered again),
 * or late results (refused by name). The original agent retries 3 times, 5 s apart, each try waiting 30 s.
 */
const RESULTS_RETRY_WINDOW_MS = 10 * 60_000;

/** A heartbeat's answer: seed 003 says 200 for an approved client and 403 (with a success body) otherwise. */
export interface HeartbeatOutcome {
  httpStatus: HttpStatus.OK | HttpStatus.FORBIDDEN;
  body: HeartbeatAnswerDto;
}

/** Who sends a PUT: an admin (any client, any address), or nobody (an agent, from the address it is bound to). */
export interface ClientCaller {
  user?: AuthUser;
  /** The request's source address (sourceAddress()). */
  source: string;
}

const notFound = () => new NotFoundException({ error: 'Client not found' });
const unauthorized = (reason?: string) =>
  new ForbiddenException(reason ? { error: 'Unauthorized', reason } : { error: 'Unauthorized' });

const POOL_REFUSAL = 'this client_id is a worker pool, which reports through the database, not over HTTP';
const ADDRESS_REFUSAL = 'request from an address other than the one this client is bound to';

@Injectable()
export class ClientsService {
  constructor(
    private readonly em: EntityManager,
    private readonly scope: ScanScope,
    private readonly enrolment: ClientEnrolmentLimit,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunService,
    private readonly agentTasks: AgentTasks,
    private readonly tasks: AgentTaskRepository,
    private readonly notifier: Notifier,
    private readonly fieldsMetric: AgentFieldsMetric,
    private readonly summaries: RunSummaries,
  ) {}

  /**
   * `POST /api/clients/{client_id}/heartbeat` from an agent (no credential). A new id is enrolled unapproved
   * (counted against CLIENT_ENROL_LIMIT for its source network). An approved agent is bound to the address its
   * approval saw: from another address the heartbeat is refused (403) and recorded for admins. An approved agent
   * that changes where it listens (ip_address, port) or what it scans (scan_range) needs approving again.
   * Errors: 400 body client_id differs from the URL's; 403 a worker pool's id, or the wrong address; 429 floods.
   */
  async heartbeat(clientId: string, input: HeartbeatDto, source: string): Promise<HeartbeatOutcome> {
    if (input.client_id !== undefined && input.client_id !== clientId) {
      throw new BadRequestException({
        error: "client_id in the body does not match the URL's client_id",
        client_id: clientId,
      });
    }
    const scanRange = parseScanRange(input.scan_range);
    const now = this.now();
    const fields = {
      hostname: input.hostname,
      ipAddress: input.ip_address,
      port: input.port,
      scanRange,
      activeScans: activeCount(input.active_scans),
      ...(input.system_info !== undefined ? { systemInfo: input.system_info } : {}),
      ...(input.capabilities !== undefined ? { capabilities: input.capabilities } : {}),
    };

    let client = await this.em.findOne(Client, { clientId });
    if (!client) {
      const enrolled = await this.enrol(clientId, { ...fields, sourceIp: source, lastSeen: now }, now);
      if (enrolled.created) {
        // A new client is counted once, by the request whose insert made it: parallel first heartbeats of one
        // id cost one enrolment, not one each. Past the limit the row goes again.
        try {
          await this.enrolment.admit(source);
        } catch (error) {
          await this.em.fork().nativeDelete(Client, { id: enrolled.client.id, isApproved: false });
          throw error;
        }
        await noticeClientAwaitingApproval(this.notifier, enrolled.client);
        return this.heartbeatAnswer(enrolled.client);
      }
      client = enrolled.client;
    }
    await this.checkAgentAddress(client, source, now);
    if (justSaidOffline(client, now)) return this.heartbeatAnswer(client);
    const moved =
      client.isApproved &&
      (client.ipAddress !== fields.ipAddress ||
        client.port !== fields.port ||
        client.scanRange.join(',') !== scanRange.join(','));
    if (moved) this.withdrawApproval(client);
    this.em.assign(client, {
      ...fields,
      status: fields.activeScans > 0 ? 'scanning' : 'online',
      sourceIp: source,
      lastSeen: now,
    });
    await this.em.flush();
    if (moved) await this.runs.clientRevoked(clientId, movedReason(clientId));
    return this.heartbeatAnswer(client);
  }

  /**
   * `PUT /api/clients/{client_id}`: an admin may change hostname, status, ip_address, port and scan_range of any
   * client; without credentials, only the agent itself may, from the address it is bound to (its approval's, or
   * its last heartbeat's while unapproved) — the original agent sends `{"status": "offline"}` on shutdown. Other
   * users: 403. An unapproved agent's change of listening address or range is fine; an approved one's needs a
   * new approval (as for heartbeats).
   */
  async update(clientId: string, input: UpdateClientDto, caller: ClientCaller): Promise<ClientAnswerDto> {
    if (caller.user && caller.user.role !== 'admin') throw unauthorized();
    const client = await this.findOrFail(clientId);
    const now = this.now();
    const scanRange = input.scan_range !== undefined ? parseScanRange(input.scan_range) : undefined;
    let withdrawn = false;
    if (!caller.user) {
      await this.checkAgentAddress(client, caller.source, now);
      if (!client.isApproved && client.sourceIp !== caller.source) throw unauthorized(ADDRESS_REFUSAL);
      const moved =
        (input.ip_address !== undefined && input.ip_address !== client.ipAddress) ||
        (input.port !== undefined && input.port !== client.port) ||
        (scanRange !== undefined && scanRange.join(',') !== client.scanRange.join(','));
      if (client.isApproved && moved) {
        this.withdrawApproval(client);
        withdrawn = true;
      }
    }
    this.em.assign(client, {
      ...(input.hostname !== undefined ? { hostname: input.hostname } : {}),
      ...(input.ip_address !== undefined ? { ipAddress: input.ip_address } : {}),
      ...(input.port !== undefined ? { port: input.port } : {}),
      ...(scanRange !== undefined ? { scanRange } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      // An agent's own word that it is alive counts as being seen; its "offline" does not.
      ...(!caller.user && input.status !== 'offline' ? { lastSeen: now } : {}),
    });
    await this.em.flush();
    if (withdrawn) await this.runs.clientRevoked(clientId, movedReason(clientId));
    return { status: 'success', message: 'Client updated successfully', client: this.toDto(client, true) };
  }

  /** `GET /api/clients/{client_id}`: any signed-in user; the address binding and refusals only for admins. */
  async details(clientId: string, user: AuthUser): Promise<ClientDetailsDto> {
    const client = await this.findOrFail(clientId);
    const admin = user.role === 'admin';
    const tasks = await this.tasks.recentOfClient(client.clientId, RECENT_TASKS);
    return {
      status: 'success',
      client: this.toDto(client, admin),
      // task_id is the capability an agent's results must carry: admins only.
      recent_tasks: tasks.map((task) => ({
        ...(admin ? { task_id: task.taskId } : {}),
        scan_id: task.scanId,
        result_id: task.result.id,
        batch_id: task.seq,
        status: task.status,
        targets: task.targets.length,
        created_at: task.createdAt.toISOString(),
        deadline: task.deadline.toISOString(),
        finished_at: iso(task.finishedAt),
        error: task.error,
      })),
    };
  }

  /**
   * `POST /api/clients/{client_id}/results` (seed 003 "Submit Scan Results"), sent by an agent with no credential.
   * Before its body is read: taken only from an approved, enabled agent (404 unknown, 403 otherwise), from the
   * address its approval bound it to (403, the refusal recorded), that has a task that may take a post (409).
   * The body is then read with a limit set by that task (agent-body.reader.ts), validated in one pass (fields
   * the server does not know are ignored, agent-fields.ts), and RunService decides what the task takes (404,
   * 409, 400). Answers seed 003's body; a retry of the same results is answered again without storing twice.
   */
  async results(clientId: string, req: Request, source: string): Promise<ResultsAnswerDto> {
    const client = await this.findOrFail(clientId);
    if (client.kind === 'pool') throw unauthorized(POOL_REFUSAL);
    if (!client.isApproved || !client.isEnabled) throw unauthorized('this client is not approved');
    const now = this.now();
    await this.checkAgentAddress(client, source, now);
    const addresses = await this.tasks.intakeCapacity(
      clientId,
      new Date(now.getTime() - RESULTS_RETRY_WINDOW_MS),
    );
    if (addresses === undefined) {
      throw new ConflictException({
        error: 'This client has no task waiting for results',
        client_id: clientId,
      });
    }
    const raw = await readJsonBody(req, resultsBodyLimit(addresses));
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new BadRequestException({ error: 'The body must be a JSON object' });
    }
    // parsed_results is read by agentResultHosts in one pass; class-transformer would deep-copy it.
    const { parsed_results: parsed, ...rest } = raw as Record<string, unknown>;
    const body = await validateAgentBody(SubmitResultsDto, rest, 'results', this.fieldsMetric);
    if (parsed !== undefined && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new BadRequestException({
        error: 'parsed_results must be an object keyed by address',
        details: ['parsed_results must be an object keyed by address'],
      });
    }
    if (body.client_id !== undefined && body.client_id !== clientId) {
      throw new BadRequestException({
        error: "client_id in the body does not match the URL's client_id",
        client_id: clientId,
      });
    }
    const hosts = agentResultHosts(parsed as Record<string, unknown> | undefined);
    if (body.scan_id !== undefined) {
      const task = await this.tasks.findByTaskId(body.task_id);
      const ofThisPost = task && task.clientId === clientId && task.result.id === body.result_id;
      if (ofThisPost && Number(body.scan_id) !== task.scanId) {
        throw new BadRequestException({ error: 'scan_id is not the scan of this task', field: 'scan_id' });
      }
    }
    const error = body.error_message ?? body.error;
    const outcome = await this.runs.agentResults({
      clientId,
      resultId: body.result_id,
      taskId: body.task_id,
      status: body.status,
      error,
      hosts,
      digest: agentResultsDigest(body.status, error, hosts),
    });
    return {
      message: 'Scan results received successfully',
      result_id: outcome.resultId,
      summary: await this.summaries.of(outcome.resultId),
    };
  }

  /**
   * Admin: approve. An agent is bound from now on to the source address of its last accepted request (the
   * one the admin sees as `source_ip`); a pool has no address (it reports through the database).
   */
  async approve(clientId: string): Promise<ClientAnswerDto> {
    const client = await this.findOrFail(clientId);
    this.em.assign(client, {
      isApproved: true,
      approvedAt: this.now(),
      approvedIp: client.kind === 'agent' ? client.sourceIp : null,
    });
    await this.em.flush();
    // Seed 003: the server tells the agent (best effort; the admin's answer does not wait for it).
    if (client.kind === 'agent')
      void this.agentTasks.announceApproval(client.clientId).catch(() => undefined);
    return { status: 'success', message: 'Client approved successfully', client: this.toDto(client, true) };
  }

  /** Admin: revoke at once; the client stays known (and unapproved) until approved again. */
  async revoke(clientId: string): Promise<ClientAnswerDto> {
    const client = await this.findOrFail(clientId);
    this.withdrawApproval(client);
    await this.em.flush();
    // At once: its open tasks and queued batches go to another client that covers them, or fail.
    await this.runs.clientRevoked(client.clientId);
    return {
      status: 'success',
      message: 'Client approval revoked successfully',
      client: this.toDto(client, true),
    };
  }

  /**
   * Admin: seed 003's "Toggle Client Visibility". A disabled client is shown offline and gets no work; its open
   * tasks and queued batches go at once to another client that covers them, or fail (as for a revocation).
   */
  async toggle(clientId: string): Promise<ClientAnswerDto> {
    const client = await this.findOrFail(clientId);
    client.isEnabled = !client.isEnabled;
    await this.em.flush();
    if (!client.isEnabled) await this.runs.clientRevoked(client.clientId, `client ${clientId} was disabled`);
    return {
      status: 'success',
      message: client.isEnabled ? 'Client marked as online' : 'Client marked as offline',
      client: this.toDto(client, true),
    };
  }

  /**
   * Admin: `DELETE /api/clients/{client_id}`. The client row goes (an agent may enrol again under the id, a pool
   * registers again at its next beat); what it scanned stays (runs, batches, hosts and its tasks keep the id as
   * text). Its open tasks and queued batches go to another client that covers them, or fail, first.
   */
  async remove(clientId: string): Promise<{ status: 'success'; message: string; client_id: string }> {
    const client = await this.findOrFail(clientId);
    this.withdrawApproval(client);
    client.isEnabled = false;
    await this.em.flush();
    await this.runs.clientRevoked(clientId, `client ${clientId} was deleted`);
    await this.em.fork().nativeDelete(Client, { id: client.id });
    return { status: 'success', message: 'Client deleted successfully', client_id: clientId };
  }

  /** Admin: every client, filtered by status (as clientStatus computes it), approval and kind; paginated. */
  async list(query: ListClientsQuery): Promise<ClientListDto> {
    const window = pageWindow(query, DEFAULT_PER_PAGE);
    const conditions: FilterQuery<Client>[] = [];
    if (query.status) {
      conditions.push(clientStatusFilter(query.status, this.now(), this.config.clients.offlineAfterMs));
    }
    if (query.is_approved !== undefined) conditions.push({ isApproved: query.is_approved });
    if (query.kind) conditions.push({ kind: query.kind });
    const [clients, total] = await this.em.findAndCount(
      Client,
      conditions.length > 0 ? { $and: conditions } : {},
      { orderBy: { id: 'asc' }, limit: window.limit, offset: window.offset },
    );
    return {
      status: 'success',
      clients: clients.map((client) => this.toDto(client, true)),
      ...pageFields(total, window),
    };
  }

  private async findOrFail(clientId: string): Promise<Client> {
    const client = await this.em.findOne(Client, { clientId });
    if (!client) throw notFound();
    return client;
  }

  /** Inserts a new agent; when another request enrolled the same id first, returns that row instead. */
  private async enrol(
    clientId: string,
    fields: Partial<Client>,
    now: Date,
  ): Promise<{ client: Client; created: boolean }> {
    const em = this.em.fork();
    try {
      em.create(Client, {
        clientId,
        kind: 'agent',
        scanRange: [],
        ...fields,
        status: (fields.activeScans ?? 0) > 0 ? 'scanning' : 'online',
        createdAt: now,
      });
      await em.flush();
      return { client: await this.findOrFail(clientId), created: true };
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      return { client: await this.findOrFail(clientId), created: false };
    }
  }

  /**
   * Refuses (403) a request over HTTP for a worker pool, or for an approved agent from an address other than
   * its approval's; the latter is recorded (refused_ip, refused_at, refused_count) for admins to see.
   */
  private async checkAgentAddress(client: Client, source: string, now: Date): Promise<void> {
    if (client.kind === 'pool') throw unauthorized(POOL_REFUSAL);
    if (!client.isApproved || client.approvedIp === null || client.approvedIp === source) return;
    await this.em.nativeUpdate(
      Client,
      { id: client.id },
      { refusedIp: source, refusedAt: now, refusedCount: client.refusedCount + 1 },
    );
    throw unauthorized(ADDRESS_REFUSAL);
  }

  private withdrawApproval(client: Client): void {
    this.em.assign(client, { isApproved: false, approvedIp: null, approvedAt: null });
  }

  private heartbeatAnswer(client: Client): HeartbeatOutcome {
    const outside = this.outsideScope(client.scanRange);
    const extra = outside.length > 0 ? { scan_range_outside_scope: outside } : {};
    return client.isApproved
      ? {
          httpStatus: HttpStatus.OK,
          body: { status: 'success', message: 'Client updated successfully', approved: true, ...extra },
        }
      : {
          httpStatus: HttpStatus.FORBIDDEN,
          body: {
            status: 'success',
            message: 'Client updated but awaiting approval',
            approved: false,
            ...extra,
          },
        };
  }

  private outsideScope(scanRange: string[]): string[] {
    return scanRange.flatMap((cidr) => this.scope.outsideOf(cidr));
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  /** The API's view of a client; `admin` adds the address binding and refusals. */
  toDto(client: Client, admin: boolean): ClientDto {
    const dto: ClientDto = {
      id: client.id,
      client_id: client.clientId,
      kind: client.kind,
      hostname: client.hostname,
      ip_address: client.ipAddress,
      port: client.port,
      scan_range: client.scanRange.join(','),
      scan_range_outside_scope: this.outsideScope(client.scanRange),
      status: clientStatus(client, this.now(), this.config.clients.offlineAfterMs),
      is_approved: client.isApproved,
      is_enabled: client.isEnabled,
      active_scans: client.activeScans,
      last_seen: iso(client.lastSeen),
      created_at: client.createdAt.toISOString(),
      capabilities: client.capabilities ?? null,
      system_info: client.systemInfo ?? null,
    };
    if (!admin) return dto;
    return {
      ...dto,
      source_ip: client.sourceIp,
      approved_ip: client.approvedIp,
      approved_at: iso(client.approvedAt),
      refused_ip: client.refusedIp,
      refused_at: iso(client.refusedAt),
      refused_count: client.refusedCount,
    };
  }
}

/**
 * How long after a client was set offline (its own `PUT {"status": "offline"}`, or an admin's) a heartbeat does
 * not bring it back: the original agent's heartbeat thread runs on through its shutdown, and a heartbeat it
 * gathered (one second of CPU sampling) before its PUT can arrive after it.
 */
const OFFLINE_GRACE_MS = 5_000;

/** True while a heartbeat is to be answered without changing the client (OFFLINE_GRACE_MS). */
function justSaidOffline(client: Client, now: Date): boolean {
  return (
    client.status === 'offline' &&
    (client.lastSeen === null || client.lastSeen.getTime() < client.updatedAt.getTime()) &&
    now.getTime() - client.updatedAt.getTime() < OFFLINE_GRACE_MS
  );
}

/** Why an approved agent's open tasks were taken back when it moved. */
function movedReason(clientId: string): string {
  return `agent ${clientId} changed its address, port or scan_range and must be approved again`;
}

function activeCount(activeScans: number | unknown[] | undefined): number {
  if (activeScans === undefined) return 0;
  return Array.isArray(activeScans) ? activeScans.length : activeScans;
}
