import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { CurrentUserResolver } from './current-user.resolver';

/** Attaches the acting user (if any) to every HTTP request; the auth guard decides what needs one. */
@Injectable()
export class CurrentUserMiddleware implements NestMiddleware {
  constructor(private readonly resolver: CurrentUserResolver) {}

  use(req: Request, _res: Response, next: NextFunction): void {
    this.resolver
      .resolve(req)
      .then((resolved) => {
        req.user = resolved.user;
        req.authMethod = resolved.method;
        req.sessionId = resolved.sessionId;
        req.tokenDigest = resolved.tokenDigest;
        req.authError = resolved.error;
        next();
      })
      .catch(next);
  }
}
