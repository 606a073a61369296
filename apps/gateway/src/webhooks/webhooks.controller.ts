import { Body, Controller, Delete, Get, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AuthUser, CurrentUser } from '../users/current-user';
import { CreateWebhookDto, UpdateWebhookDto, WebhookDeliveriesQuery, WebhookDto } from './webhooks.dto';
import { WebhooksService } from './webhooks.service';

const webhookId = new ParseIdPipe('webhook_id');

/** Webhooks on delta reports (docs/notifications.md "Webhooks"): the caller's own rules only. */
@ApiTags('webhooks')
@Controller('api/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiCreatedResponse({ type: WebhookDto })
  @ApiBadRequestResponse({
    description:
      "Missing or malformed field, webhooks off (WEBHOOK_ALLOW unset), a destination outside WEBHOOK_ALLOW or on one of this system's own ports, a scan not yours, or the 101st rule",
  })
  create(@CurrentUser() user: AuthUser, @Body() body: CreateWebhookDto): Promise<WebhookDto> {
    return this.webhooks.create(user.id, body);
  }

  @Get()
  @ApiOkResponse({ type: [WebhookDto] })
  list(@CurrentUser() user: AuthUser): Promise<WebhookDto[]> {
    return this.webhooks.list(user.id);
  }

  @Get(':webhookId')
  @ApiOkResponse({ type: WebhookDto })
  @ApiNotFoundResponse({ description: 'Unknown webhook, or another user’s' })
  one(@CurrentUser() user: AuthUser, @Param('webhookId', webhookId) id: number): Promise<WebhookDto> {
    return this.webhooks.one(user.id, id);
  }

  @Put(':webhookId')
  @ApiOkResponse({ type: WebhookDto, description: 'Partial: fields not sent keep their values' })
  @ApiBadRequestResponse({ description: 'As for POST' })
  @ApiNotFoundResponse({ description: 'Unknown webhook, or another user’s' })
  update(
    @CurrentUser() user: AuthUser,
    @Param('webhookId', webhookId) id: number,
    @Body() body: UpdateWebhookDto,
  ): Promise<WebhookDto> {
    return this.webhooks.update(user.id, id, body);
  }

  @Delete(':webhookId')
  @ApiOkResponse({
    description: '{"status": "success", "message": "Webhook deleted"}; its delivery log goes too',
  })
  @ApiNotFoundResponse({ description: 'Unknown webhook, or another user’s' })
  remove(@CurrentUser() user: AuthUser, @Param('webhookId', webhookId) id: number) {
    return this.webhooks.remove(user.id, id);
  }

  @Get(':webhookId/deliveries')
  @ApiOkResponse({
    description: '{deliveries: [...], total, page, per_page, ...}: one row per try, newest first',
  })
  @ApiNotFoundResponse({ description: 'Unknown webhook, or another user’s' })
  deliveries(
    @CurrentUser() user: AuthUser,
    @Param('webhookId', webhookId) id: number,
    @Query() query: WebhookDeliveriesQuery,
  ) {
    return this.webhooks.deliveries(user.id, id, query, user.role === 'admin');
  }
}
