// Registration floods: an agent carries no secret, so anyone who reaches the gateway can invent client ids. Each
// new id costs a row, so new ids are counted per source network (the rate limiter's fixed windows, in Redis).
import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { clientNetwork } from '../rate-limit/client-network';
import { Clock } from '../rate-limit/clock';
import { secondsUntil } from '../rate-limit/fixed-window';
import { RateLimitService } from '../rate-limit/rate-limit.service';

@Injectable()
export class ClientEnrolmentLimit {
  private readonly logger = new Logger('ClientEnrolment');

  constructor(
    private readonly limiter: RateLimitService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Counts one new client id from `source`; throws 429 `{"error": "Too many new clients from this address",
   * retry_after}` past CLIENT_ENROL_LIMIT per RATE_LIMIT_WINDOW_SECONDS. Like the request limiter it fails open
   * when Redis errs (logged), and counts nothing when RATE_LIMIT_ENABLED is false.
   */
  async admit(source: string): Promise<void> {
    const limits = this.config.rateLimit;
    if (!limits.enabled) return;
    let decision;
    try {
      decision = await this.limiter.consume(
        `enrol:${clientNetwork(source)}`,
        this.config.clients.enrolPerNetworkPerWindow,
        limits.windowSeconds,
      );
    } catch (error) {
      this.logger.warn(`Redis did not count a new client (${(error as Error).message}); admitted`);
      return;
    }
    if (decision.allowed) return;
    throw new HttpException(
      {
        error: 'Too many new clients from this address',
        retry_after: secondsUntil(decision.resetAt, this.clock.now()),
      },
      429,
    );
  }
}
