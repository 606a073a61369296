import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public, Roles } from '../auth/auth.decorators';
import { AuthUser, CurrentUser } from '../users/current-user';
import { ApiValidationPipe } from '../common/validation';
import { AgentFieldsMetric, validateAgentBody } from './agent-fields';
import { ClientIdPipe, sourceAddress } from './client-id.pipe';
import {
  ClientAnswerDto,
  ClientDetailsDto,
  ClientListDto,
  HeartbeatAnswerDto,
  HeartbeatDto,
  ListClientsQuery,
  UpdateClientDto,
} from './clients.dto';
import { ResultsAnswerDto, SubmitResultsDto } from './agent-results.dto';
import { AgentResultsService } from './agent-results.service';
import { ClientsService } from './clients.service';

const clientIdPipe = new ClientIdPipe();
const strictPipe = new ApiValidationPipe();

/** Seed 003 "Client Management" (docs/clients.md: who may call what, and why). */
@ApiTags('clients')
@Controller('api/clients')
export class ClientsController {
  constructor(
    private readonly clients: ClientsService,
    private readonly agentResults: AgentResultsService,
    private readonly fieldsMetric: AgentFieldsMetric,
  ) {}

  @Post(':clientId/heartbeat')
  @Public()
  @ApiOkResponse({ type: HeartbeatAnswerDto, description: 'Approved: `{"approved": true}`' })
  @ApiForbiddenResponse({
    type: HeartbeatAnswerDto,
    description:
      'Not approved yet: `{"status": "success", "message": "Client updated but awaiting approval", ' +
      '"approved": false}`; or `{"error": "Unauthorized"}` for an approved agent heard from another address',
  })
  @ApiBadRequestResponse({ description: 'A field is invalid, or the body client_id differs from the URL' })
  @ApiTooManyRequestsResponse({
    description: 'Too many requests for this client, or new clients from this address',
  })
  @ApiBody({
    type: HeartbeatDto,
    description: 'Top-level fields not listed here are ignored (counted in nso_agent_fields_ignored_total)',
  })
  async heartbeat(
    @Param('clientId', clientIdPipe) clientId: string,
    @Body() raw: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<HeartbeatAnswerDto> {
    const body = await validateAgentBody(HeartbeatDto, raw, 'heartbeat', this.fieldsMetric);
    const outcome = await this.clients.heartbeat(clientId, body, sourceAddress(req.ip));
    res.status(outcome.httpStatus);
    return outcome.body;
  }

  @Post(':clientId/results')
  @Public()
  @HttpCode(200)
  @ApiOkResponse({
    type: ResultsAnswerDto,
    description: 'Stored (or an identical retry of results already stored: answered again, stored once)',
  })
  @ApiBody({
    type: SubmitResultsDto,
    description:
      'Read only after the client, its address and its open task were checked, at most 64 KiB plus 64 KiB per ' +
      'address of its largest open task (32 MiB in all; compressed bodies at most 100 times their size). ' +
      'Top-level fields not listed here are ignored (counted in nso_agent_fields_ignored_total)',
  })
  @ApiBadRequestResponse({
    description:
      'Malformed body (`problems`: the first 20 and `problem_count`), `client_id` or `scan_id` not this ' +
      "client's or task's, or addresses that are not the task's (`invalid_addresses`): nothing stored",
  })
  @ApiForbiddenResponse({
    description: 'Not an approved agent, or sent from an address other than the one its approval bound it to',
  })
  @ApiNotFoundResponse({
    description: 'No such client, or `task_id` is not a task of this client for `result_id`',
  })
  @ApiConflictResponse({
    description:
      'The client has no task waiting for results (answered before the body is read), or the task takes no ' +
      'more results (completed with other results, failed or cancelled: `task_status`)',
  })
  @ApiPayloadTooLargeResponse({ description: "Larger than the client's tasks can need, or too compressed" })
  async results(
    @Param('clientId', clientIdPipe) clientId: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ResultsAnswerDto> {
    try {
      return await this.agentResults.results(clientId, req, sourceAddress(req.ip));
    } catch (error) {
      // Refused before (or while) its body was read: the connection is closed rather than the rest read.
      if (!req.complete) res.setHeader('Connection', 'close');
      throw error;
    }
  }

  @Get()
  @Roles('admin')
  @ApiOkResponse({ type: ClientListDto })
  @ApiForbiddenResponse({ description: 'Not an admin: `{"error": "Unauthorized"}`' })
  list(@Query() query: ListClientsQuery): Promise<ClientListDto> {
    return this.clients.list(query);
  }

  @Get(':clientId')
  @ApiOkResponse({ type: ClientDetailsDto, description: 'Admins also see the address binding and refusals' })
  @ApiNotFoundResponse({ description: '`{"error": "Client not found"}`' })
  details(
    @Param('clientId', clientIdPipe) clientId: string,
    @CurrentUser() user: AuthUser,
  ): Promise<ClientDetailsDto> {
    return this.clients.details(clientId, user);
  }

  @Put(':clientId')
  @Public()
  @ApiOkResponse({ type: ClientAnswerDto })
  @ApiForbiddenResponse({
    description: 'Neither an admin nor the agent itself from the address it is bound to',
  })
  @ApiNotFoundResponse({ description: '`{"error": "Client not found"}`' })
  @ApiBody({
    type: UpdateClientDto,
    description:
      'From an agent (no credential), top-level fields not listed here are ignored (counted in ' +
      'nso_agent_fields_ignored_total); from an admin they are refused (400 `unknown_fields`)',
  })
  async update(
    @Param('clientId', clientIdPipe) clientId: string,
    @Body() raw: unknown,
    @Req() req: Request,
  ): Promise<ClientAnswerDto> {
    const body = req.user
      ? ((await strictPipe.transform(raw, { type: 'body', metatype: UpdateClientDto })) as UpdateClientDto)
      : await validateAgentBody(UpdateClientDto, raw, 'update', this.fieldsMetric);
    return this.clients.update(clientId, body, { user: req.user, source: sourceAddress(req.ip) });
  }

  @Delete(':clientId')
  @Roles('admin')
  @ApiOkResponse({
    description:
      '`{"status": "success", "message": "Client deleted successfully", "client_id": ...}`: the client is ' +
      'removed; its runs, batches, hosts and tasks stay; its open tasks go to another client or fail',
  })
  @ApiForbiddenResponse({ description: 'Not an admin: `{"error": "Unauthorized"}`' })
  @ApiNotFoundResponse({ description: '`{"error": "Client not found"}`' })
  remove(@Param('clientId', clientIdPipe) clientId: string) {
    return this.clients.remove(clientId);
  }

  @Post(':clientId/approve')
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: ClientAnswerDto })
  @ApiForbiddenResponse({ description: 'Not an admin: `{"error": "Unauthorized"}`' })
  @ApiNotFoundResponse({ description: '`{"error": "Client not found"}`' })
  approve(@Param('clientId', clientIdPipe) clientId: string): Promise<ClientAnswerDto> {
    return this.clients.approve(clientId);
  }

  @Post(':clientId/revoke')
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: ClientAnswerDto })
  @ApiForbiddenResponse({ description: 'Not an admin: `{"error": "Unauthorized"}`' })
  @ApiNotFoundResponse({ description: '`{"error": "Client not found"}`' })
  revoke(@Param('clientId', clientIdPipe) clientId: string): Promise<ClientAnswerDto> {
    return this.clients.revoke(clientId);
  }

  @Post(':clientId/toggle')
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({
    type: ClientAnswerDto,
    description: '"Client marked as offline" / "Client marked as online"',
  })
  @ApiForbiddenResponse({ description: 'Not an admin: `{"error": "Unauthorized"}`' })
  @ApiNotFoundResponse({ description: '`{"error": "Client not found"}`' })
  toggle(@Param('clientId', clientIdPipe) clientId: string): Promise<ClientAnswerDto> {
    return this.clients.toggle(clientId);
  }
}
