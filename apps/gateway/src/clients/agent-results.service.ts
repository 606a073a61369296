// An agent's results (seed 003 "Submit Scan Results"), checked here for who sends them and how much they may
// weigh; what they may hold and what becomes of them is RunService's.
import { BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import { AgentTaskRepository } from '@nso/persistence';
import { RunService } from '@nso/runs';
import type { Request } from 'express';
import { RunSummaries } from '../results/run-summary';
import { Clock } from '../rate-limit/clock';
import { readJsonBody, resultsBodyLimit } from './agent-body.reader';
import { AgentFieldsMetric, validateAgentBody } from './agent-fields';
import { agentResultHosts, agentResultsDigest } from './agent-results';
import { ResultsAnswerDto, SubmitResultsDto } from './agent-results.dto';
import { ClientAccess, POOL_REFUSAL, unauthorized } from './client-access';

/**
 * How long after a task ended its agent may still post to it: a retry of results already taken (answered again),
 * or late results (refused by name). The original agent retries 3 times, 5 s apart, each try waiting 30 s.
 */
export const RESULTS_RETRY_WINDOW_MS = 10 * 60_000;

/** The intake of `POST /api/clients/{client_id}/results`. */
@Injectable()
export class AgentResultsService {
  constructor(
    private readonly access: ClientAccess,
    private readonly clock: Clock,
    private readonly runs: RunService,
    private readonly tasks: AgentTaskRepository,
    private readonly fieldsMetric: AgentFieldsMetric,
    private readonly summaries: RunSummaries,
  ) {}

  /**
   * `POST /api/clients/{client_id}/results` (seed 003 "Submit Scan Results"), sent by an agent with no credential.
   * Before its body is read: taken only from an approved, enabled agent (404 unknown, 403 otherwise), from the
   * address its approval bound it to (403, the refusal recorded), that has a task that may take a post (409).
   * The body is then read with a limit set by that task (agent-body.reader.ts), validated in one pass (fields
   * the server does not know are ignored, agent-fields.ts), and RunService decides what the task takes (404,
   * 409, 400). Answers seed 003's body; a retry of the same results is answered again without storing twice.
   */
  async results(clientId: string, req: Request, source: string): Promise<ResultsAnswerDto> {
    const client = await this.access.findOrFail(clientId);
    if (client.kind === 'pool') throw unauthorized(POOL_REFUSAL);
    if (!client.isApproved || !client.isEnabled) throw unauthorized('this client is not approved');
    const now = new Date(this.clock.now());
    await this.access.checkAgentAddress(client, source, now);
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
}
