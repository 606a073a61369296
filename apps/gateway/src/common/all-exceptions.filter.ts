import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { NmapPolicyError, ScopeError, TargetError } from '@nso/nmap';
import { isDuplicateError, logSafeError } from '@nso/persistence';
import {
  AgentResultAddressesError,
  AgentTaskClosedError,
  AgentTaskNotFoundError,
  NoCoveringClientError,
  QueueUnavailableError,
  RunActiveError,
  ImportStoppedError,
  ScheduleBusyError,
} from '@nso/runs';
import { AgentResultsFormatError } from '../clients/agent-results';
import type { Response } from 'express';
import { ErrorBody, STATUS_MESSAGES } from './error-body';

/**
 * The one place an exception becomes an HTTP answer. Domain errors of libs/nmap are the user's fault (400), those of libs/runs a
 * conflict (409) or a passing outage (503);
 * anything unexpected is a 500 whose body never carries a stack trace (the log does, without SQL values).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) return;
    const [status, body] = this.toResponse(exception);
    response.status(status).json(body);
  }

  private toResponse(exception: unknown): [number, ErrorBody] {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return [status, this.httpBody(status, exception.getResponse())];
    }
    if (exception instanceof NmapPolicyError) {
      // A refused combination names both options (`options`); a single refusal keeps the one `option`.
      const both = exception.options.length > 1 ? { options: exception.options } : {};
      return [400, { error: exception.message, option: exception.option, ...both }];
    }
    if (exception instanceof RunActiveError) {
      return [409, { error: exception.message, scan_id: exception.scanId, result_id: exception.resultId }];
    }
    if (exception instanceof ImportStoppedError) {
      return [409, { error: exception.message, scan_id: exception.scanId }];
    }
    if (exception instanceof AgentTaskNotFoundError) return [404, { error: exception.message }];
    if (exception instanceof AgentTaskClosedError) {
      return [409, { error: exception.message, task_status: exception.taskStatus }];
    }
    if (exception instanceof AgentResultAddressesError) {
      // A bounded sample: a refusal of 100,000 addresses is not a 1.5 MB answer.
      return [
        400,
        {
          error: exception.message,
          invalid_addresses: exception.addresses.slice(0, 20),
          invalid_address_count: exception.addresses.length,
        },
      ];
    }
    if (exception instanceof AgentResultsFormatError) {
      return [
        400,
        { error: exception.message, problems: exception.problems, problem_count: exception.count },
      ];
    }
    if (exception instanceof NoCoveringClientError) {
      return [409, { error: exception.message, unassigned_targets: exception.targets }];
    }
    if (exception instanceof ScheduleBusyError) return [503, { error: exception.message }];
    if (exception instanceof QueueUnavailableError) {
      return [503, { error: exception.message }];
    }
    if (exception instanceof TargetError) {
      return [400, { error: exception.message, invalid_targets: exception.targets }];
    }
    if (exception instanceof ScopeError) {
      return [400, { error: exception.message, out_of_scope: exception.outOfScope }];
    }
    if (isDuplicateError(exception)) {
      return [409, { error: 'Already exists' }];
    }
    // Never the SQL of a database error: it carries the values (password hashes, token digests).
    this.logger.error(logSafeError(exception));
    return [HttpStatus.INTERNAL_SERVER_ERROR, { error: 'Internal server error' }];
  }

  private httpBody(status: number, response: string | object): ErrorBody {
    if (typeof response === 'string') return { error: response };
    const body = response as Record<string, unknown>;
    if (typeof body.error === 'string' && body.statusCode === undefined) return body as ErrorBody;
    // Nest's built-in exceptions look like {statusCode, message, error}: keep the most specific sentence.
    const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    return { error: typeof message === 'string' ? message : (STATUS_MESSAGES[status] ?? 'Error') };
  }
}
