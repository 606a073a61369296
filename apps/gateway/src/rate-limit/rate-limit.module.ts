import { Global, Module } from '@nestjs/common';
import { Clock } from './clock';
import { LoginThrottle } from './login-throttle.service';
import { RateLimitMiddleware } from './rate-limit.middleware';
import { RateLimitService } from './rate-limit.service';

/**
 * Global so that the auth module can inject LoginThrottle without importing this module. The middleware is
 * instantiated in the module that applies it (AppModule), so its dependencies, Clock included, are exported.
 */
@Global()
@Module({
  providers: [Clock, RateLimitService, LoginThrottle, RateLimitMiddleware],
  exports: [Clock, RateLimitService, LoginThrottle, RateLimitMiddleware],
})
export class RateLimitModule {}
