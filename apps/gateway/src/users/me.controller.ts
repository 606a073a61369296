import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { AuthUser, CurrentUser } from './current-user';
import { MeDto } from './me.dto';
import { UsersService } from './users.service';

/** Who the caller is (session cookie or API token): the dashboard reads it to show or hide admin actions. */
@ApiTags('users')
@Controller('api/me')
export class MeController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOkResponse({ type: MeDto, description: 'The signed-in user' })
  @ApiUnauthorizedResponse({ description: 'Not signed in (or an expired session, a revoked token)' })
  me(@CurrentUser() user: AuthUser): Promise<MeDto> {
    return this.users.describe(user.id);
  }
}
