import { Global, Module } from '@nestjs/common';
import { CurrentUserMiddleware } from './current-user.middleware';
import { CurrentUserResolver } from './current-user.resolver';
import { UsersService } from './users.service';

@Global()
@Module({
  providers: [UsersService, CurrentUserResolver, CurrentUserMiddleware],
  exports: [UsersService, CurrentUserResolver, CurrentUserMiddleware],
})
export class UsersModule {}
