import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AuthUser, CurrentUser } from '../users/current-user';
import { CreatedTokenDto, CreateTokenDto, TokenDto } from './tokens.dto';
import { TokensService } from './tokens.service';

@ApiTags('tokens')
@Controller('api/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @ApiCreatedResponse({ type: CreatedTokenDto, description: 'The token is in this answer only' })
  create(@CurrentUser() user: AuthUser, @Body() body: CreateTokenDto): Promise<CreatedTokenDto> {
    return this.tokens.create(user.id, body.name);
  }

  @Get()
  @ApiOkResponse({ type: [TokenDto] })
  list(@CurrentUser() user: AuthUser): Promise<TokenDto[]> {
    return this.tokens.list(user.id);
  }

  @Delete(':tokenId')
  @HttpCode(200)
  @ApiOkResponse({ description: 'Revoked' })
  @ApiNotFoundResponse({ description: 'Unknown token, or another user’s' })
  async revoke(
    @CurrentUser() user: AuthUser,
    @Param('tokenId', new ParseIdPipe('token id')) tokenId: number,
  ): Promise<{ message: string }> {
    await this.tokens.revoke(user.id, tokenId);
    return { message: 'Token revoked' };
  }
}
