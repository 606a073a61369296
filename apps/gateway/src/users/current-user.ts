import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

export interface AuthUser {
  id: number;
  username: string;
  role: 'admin' | 'user';
}

/** How the request proved who it is: the session cookie (CSRF applies) or a bearer token (it does not). */
export type AuthMethod = 'session' | 'token';

declare module 'express' {
  interface Request {
    user?: AuthUser;
    authMethod?: AuthMethod;
    sessionId?: string;
    /** The SHA-256 of the bearer token the request was accepted with (api_tokens.token_hash). */
    tokenDigest?: string;
    /** Why credentials that were sent were not accepted. */
    authError?: string;
  }
}

/** The user a request acts as (routes behind the auth guard always have one). */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthUser => {
  const user = ctx.switchToHttp().getRequest<Request>().user;
  if (!user) throw new Error('CurrentUser used on a public route');
  return user;
});
