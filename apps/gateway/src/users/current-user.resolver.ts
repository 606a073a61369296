import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AuthUser } from './current-user';
import { UsersService } from './users.service';

/**
 * Who a request (HTTP or WebSocket upgrade) acts as. Until sessions and tokens exist, that is the built-in
 * admin; authentication replaces this one class.
 */
@Injectable()
export class CurrentUserResolver {
  constructor(private readonly users: UsersService) {}

  async resolve(_request: IncomingMessage): Promise<AuthUser | undefined> {
    return this.users.defaultAdmin();
  }
}
