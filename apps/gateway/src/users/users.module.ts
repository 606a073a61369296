import { Global, Module } from '@nestjs/common';
import { SessionStore } from '../auth/session.store';
import { CurrentUserMiddleware } from './current-user.middleware';
import { CurrentUserResolver } from './current-user.resolver';
import { MeController } from './me.controller';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Global()
@Module({
  controllers: [UsersController, MeController],
  providers: [UsersService, SessionStore, CurrentUserResolver, CurrentUserMiddleware],
  exports: [UsersService, SessionStore, CurrentUserResolver, CurrentUserMiddleware],
})
export class UsersModule {}
