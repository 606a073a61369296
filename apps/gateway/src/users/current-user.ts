import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

export interface AuthUser {
  id: number;
  role: 'admin' | 'user';
}

declare module 'express' {
  interface Request {
    user?: AuthUser;
  }
}

/** The user a request acts as. */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthUser => {
  const user = ctx.switchToHttp().getRequest<Request>().user;
  if (!user) throw new Error('CurrentUser used on a route without an authenticated user');
  return user;
});
