import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { CurrentUserResolver } from './current-user.resolver';

/** Attaches the acting user to every HTTP request. */
@Injectable()
export class CurrentUserMiddleware implements NestMiddleware {
  constructor(private readonly resolver: CurrentUserResolver) {}

  use(req: Request, _res: Response, next: NextFunction): void {
    this.resolver
      .resolve(req)
      .then((user) => {
        req.user = user;
        next();
      })
      .catch(next);
  }
}
