import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { CHANGES_STATE, PUBLIC_ROUTE, REQUIRED_ROLES, SESSION_ROUTE } from './auth.decorators';
import { SameOriginPolicy } from './same-origin';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every route needs a user unless marked @Public; @Roles narrows it further. A state change authenticated by
 * the session cookie, and any state change of a @SessionRoute (login, register, logout), must come from our own
 * origin (CSRF); bearer-token requests cannot be forged cross-site.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly origins: SameOriginPolicy,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const targets = [context.getHandler(), context.getClass()];

    const changesState =
      !SAFE_METHODS.has(req.method) || this.reflector.getAllAndOverride<boolean>(CHANGES_STATE, targets);
    const sessionRoute = this.reflector.getAllAndOverride<boolean>(SESSION_ROUTE, targets);
    if ((req.authMethod === 'session' || sessionRoute) && changesState && this.origins.isCrossSite(req)) {
      throw new ForbiddenException({ error: 'Cross-site request refused' });
    }
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    if (!req.user) throw new UnauthorizedException({ error: req.authError ?? 'Authentication required' });
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets);
    if (roles && !roles.includes(req.user.role)) throw new ForbiddenException({ error: 'Unauthorized' });
    return true;
  }
}
