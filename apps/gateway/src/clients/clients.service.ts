// Scanner clients of seed 003 "Client Management": enrolment by heartbeat, approval, address binding and the
// admin's view. An agent's results are AgentResultsService's.
import { BadRequestException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { noticeClientAwaitingApproval, Notifier } from '@nso/events';
import { ScanScope } from '@nso/nmap';
import {
  AgentTaskRepository,
  ClientRepository,
  clientStatus,
  type Client,
  type ClientPatch,
} from '@nso/persistence';
import { AgentTasks, RunService } from '@nso/runs';
import { pageFields, pageWindow } from '../common/pagination';
import { Clock } from '../rate-limit/clock';
import { AuthUser } from '../users/current-user';
import { ADDRESS_REFUSAL, ClientAccess, clientNotFound, unauthorized } from './client-access';
import { ClientEnrolmentLimit } from './client-enrolment.limit';
import { clientView, iso } from './client-view';
import {
  ClientAnswerDto,
  ClientDetailsDto,
  ClientDto,
  ClientListDto,
  HeartbeatAnswerDto,
  HeartbeatDto,
  ListClientsQuery,
  parseScanRange,
  UpdateClientDto,
} from './clients.dto';

/** How many of a client's tasks its details show. */
const RECENT_TASKS = 10;

const DEFAULT_PER_PAGE = 50;

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

/** What a withdrawn approval sets: the client must be approved again, and is bound to no address. */
const WITHDRAWN: ClientPatch = { isApproved: false, approvedIp: null, approvedAt: null };

/**
 * The client API of seed 003 "Client Management" but for results (AgentResultsService): heartbeats, updates,
 * approval, toggle, deletion and the admin's view. Rows through ClientRepository; what a revocation does to open
 * work is RunService's.
 */
@Injectable()
export class ClientsService {
  constructor(
    private readonly clients: ClientRepository,
    private readonly access: ClientAccess,
    private readonly scope: ScanScope,
    private readonly enrolment: ClientEnrolmentLimit,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunService,
    private readonly agentTasks: AgentTasks,
    private readonly tasks: AgentTaskRepository,
    private readonly notifier: Notifier,
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

    let client = await this.clients.findByClientId(clientId);
    if (!client) {
      const enrolled = await this.clients.enrolAgent(
        clientId,
        { ...fields, sourceIp: source, lastSeen: now },
        now,
      );
      if (!enrolled) throw clientNotFound();
      if (enrolled.created) {
        // A new client is counted once, by the request whose insert made it: parallel first heartbeats of one
        // id cost one enrolment, not one each. Past the limit the row goes again.
        try {
          await this.enrolment.admit(source);
        } catch (error) {
          await this.clients.removeUnapproved(enrolled.client.id);
          throw error;
        }
        await noticeClientAwaitingApproval(this.notifier, enrolled.client);
        return this.heartbeatAnswer(enrolled.client);
      }
      client = enrolled.client;
    }
    await this.access.checkAgentAddress(client, source, now);
    if (justSaidOffline(client, now)) return this.heartbeatAnswer(client);
    const moved =
      client.isApproved &&
      (client.ipAddress !== fields.ipAddress ||
        client.port !== fields.port ||
        client.scanRange.join(',') !== scanRange.join(','));
    const updated = await this.save(client, {
      ...fields,
      ...(moved ? WITHDRAWN : {}),
      status: fields.activeScans > 0 ? 'scanning' : 'online',
      sourceIp: source,
      lastSeen: now,
    });
    if (moved) await this.runs.clientRevoked(clientId, movedReason(clientId));
    return this.heartbeatAnswer(updated);
  }

  /**
   * `PUT /api/clients/{client_id}`: an admin may change hostname, status, ip_address, port and scan_range of any
   * client; without credentials, only the agent itself may, from the address it is bound to (its approval's, or
   * its last heartbeat's while unapproved) — the original agent sends `{"status": "offline"}` on shutdown. Other
   * users: 403. An unapproved agent's change of listening address or range is fine; an approved one's needs a
   * new approval (as for heartbeats). Errors: 404 unknown client.
   */
  async update(clientId: string, input: UpdateClientDto, caller: ClientCaller): Promise<ClientAnswerDto> {
    if (caller.user && caller.user.role !== 'admin') throw unauthorized();
    const client = await this.access.findOrFail(clientId);
    const now = this.now();
    const scanRange = input.scan_range !== undefined ? parseScanRange(input.scan_range) : undefined;
    let withdrawn = false;
    if (!caller.user) {
      await this.access.checkAgentAddress(client, caller.source, now);
      if (!client.isApproved && client.sourceIp !== caller.source) throw unauthorized(ADDRESS_REFUSAL);
      const moved =
        (input.ip_address !== undefined && input.ip_address !== client.ipAddress) ||
        (input.port !== undefined && input.port !== client.port) ||
        (scanRange !== undefined && scanRange.join(',') !== client.scanRange.join(','));
      withdrawn = client.isApproved && moved;
    }
    const updated = await this.save(client, {
      ...(withdrawn ? WITHDRAWN : {}),
      ...(input.hostname !== undefined ? { hostname: input.hostname } : {}),
      ...(input.ip_address !== undefined ? { ipAddress: input.ip_address } : {}),
      ...(input.port !== undefined ? { port: input.port } : {}),
      ...(scanRange !== undefined ? { scanRange } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      // An agent's own word that it is alive counts as being seen; its "offline" does not.
      ...(!caller.user && input.status !== 'offline' ? { lastSeen: now } : {}),
    });
    if (withdrawn) await this.runs.clientRevoked(clientId, movedReason(clientId));
    return { status: 'success', message: 'Client updated successfully', client: this.toDto(updated, true) };
  }

  /**
   * `GET /api/clients/{client_id}`: any signed-in user; the address binding and refusals only for admins, and the
   * recent tasks of every user's scans to admins only (a user sees those of their own scans).
   */
  async details(clientId: string, user: AuthUser): Promise<ClientDetailsDto> {
    const client = await this.access.findOrFail(clientId);
    const admin = user.role === 'admin';
    const tasks = await this.tasks.recentOfClient(client.clientId, RECENT_TASKS, admin ? undefined : user.id);
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
   * Admin: approve. An agent is bound from now on to the source address of its last accepted request (the
   * one the admin sees as `source_ip`); a pool has no address (it reports through the database). 404 unknown.
   */
  async approve(clientId: string): Promise<ClientAnswerDto> {
    const client = await this.access.findOrFail(clientId);
    const updated = await this.save(client, {
      isApproved: true,
      approvedAt: this.now(),
      approvedIp: client.kind === 'agent' ? client.sourceIp : null,
    });
    // Seed 003: the server tells the agent (best effort; the admin's answer does not wait for it).
    if (updated.kind === 'agent')
      void this.agentTasks.announceApproval(updated.clientId).catch(() => undefined);
    return { status: 'success', message: 'Client approved successfully', client: this.toDto(updated, true) };
  }

  /** Admin: revoke at once; the client stays known (and unapproved) until approved again. 404 unknown. */
  async revoke(clientId: string): Promise<ClientAnswerDto> {
    const client = await this.save(await this.access.findOrFail(clientId), WITHDRAWN);
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
    const found = await this.access.findOrFail(clientId);
    const client = await this.save(found, { isEnabled: !found.isEnabled });
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
    const client = await this.save(await this.access.findOrFail(clientId), {
      ...WITHDRAWN,
      isEnabled: false,
    });
    await this.runs.clientRevoked(clientId, `client ${clientId} was deleted`);
    await this.clients.remove(client.id);
    return { status: 'success', message: 'Client deleted successfully', client_id: clientId };
  }

  /** Admin: every client, filtered by status (as clientStatus computes it), approval and kind; paginated. */
  async list(query: ListClientsQuery): Promise<ClientListDto> {
    const window = pageWindow(query, DEFAULT_PER_PAGE);
    const { clients, total } = await this.clients.page(
      {
        status: query.status,
        isApproved: query.is_approved,
        kind: query.kind,
        now: this.now(),
        offlineAfterMs: this.config.clients.offlineAfterMs,
      },
      window,
    );
    return {
      status: 'success',
      clients: clients.map((client) => this.toDto(client, true)),
      ...pageFields(total, window),
    };
  }

  /** The API's view of a client; `admin` adds the address binding and refusals. */
  toDto(client: Client, admin: boolean): ClientDto {
    const status = clientStatus(client, this.now(), this.config.clients.offlineAfterMs);
    return clientView(client, admin, status, this.outsideScope(client.scanRange));
  }

  /** Stores `patch` on the client; the client as stored. Errors: 404 when it was deleted meanwhile. */
  private async save(client: Client, patch: ClientPatch): Promise<Client> {
    const updated = await this.clients.update(client.id, patch);
    if (!updated) throw clientNotFound();
    return updated;
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
