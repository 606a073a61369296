import {
  BadRequestException,
  BeforeApplicationShutdown,
  GatewayTimeoutException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  ServiceUnavailableException,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import {
  NMAP_RUNNER,
  NmapArgumentPolicy,
  NmapRunner,
  parseTargets,
  resolveTargets,
  ScanScope,
  TargetSet,
} from '@nso/nmap';
import { NmapRunDto, NmapRunResultDto } from './nmap-run.dto';

/** A one-off run answers synchronously, so it is kept to what one nmap process finishes in reasonable time. */
export const MAX_RUN_TARGETS = 4096;

@Injectable()
export class NmapRunService implements BeforeApplicationShutdown {
  /** Runs under way on this gateway, by user id (NMAP_RUN_MAX_PER_USER). */
  private readonly running = new Map<number, number>();
  /** Aborted when the gateway stops, before its HTTP server waits for the requests under way. */
  private readonly stopping = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NMAP_RUNNER) private readonly runner: NmapRunner,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
  ) {}

  /**
   * Runs nmap for `userId`, who may have at most NMAP_RUN_MAX_PER_USER runs under way on this gateway (429 past
   * that: each holds an nmap process for up to NMAP_RUN_TIMEOUT_MS). See `runChecked`.
   */
  async run(input: NmapRunDto, userId: number, clientGone: AbortSignal): Promise<NmapRunResultDto> {
    const max = this.config.nmapRunMaxPerUser;
    const mine = this.running.get(userId) ?? 0;
    if (mine >= max) {
      throw new HttpException(
        {
          error: `at most ${max} nmap runs of yours at once (NMAP_RUN_MAX_PER_USER); wait for one to end, or use POST /api/scans/start`,
        },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    this.running.set(userId, mine + 1);
    try {
      return await this.runChecked(input, clientGone);
    } finally {
      const left = (this.running.get(userId) ?? 1) - 1;
      if (left > 0) this.running.set(userId, left);
      else this.running.delete(userId);
    }
  }

  /**
   * SIGTERM: the HTTP server closes only once every request has been answered, and a run holds its request for up
   * to NMAP_RUN_TIMEOUT_MS, far past the grace period (30 s) after which the gateway is killed. Runs under way are
   * stopped and answered 503, so the gateway exits at once and their clients may run them again elsewhere.
   */
  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }

  /**
   * Checks the flags, resolves each host name once, checks the scope of those addresses, and runs nmap on the
   * addresses (each once, ascending), never on a name. 400 for a refused option, target or scope; 500 with
   * nmap's stderr (in `stderr` and, as the original API had it, `detail`) when nmap exits non-zero.
   */
  private async runChecked(input: NmapRunDto, clientGone: AbortSignal): Promise<NmapRunResultDto> {
    const flags = this.policy.validate(input.nmap_flags);
    const specs = parseTargets(input.targets);
    const resolvedNames = await resolveTargets(specs, flags, this.scope);
    const set = TargetSet.build(specs, flags, resolvedNames);
    if (set.count > MAX_RUN_TARGETS) {
      throw new BadRequestException({
        error: `nmap/run takes at most ${MAX_RUN_TARGETS} addresses (got ${set.count}); use POST /api/scans/start`,
      });
    }

    if (this.stopping.signal.aborted) throw shuttingDown();
    const timeout = AbortSignal.timeout(this.config.nmapRunTimeoutMs);
    const result = await this.runner.run({
      nmapPath: this.config.nmapPath,
      flags,
      targets: set.slice(0, set.count),
      signal: AbortSignal.any([clientGone, timeout, this.stopping.signal]),
    });
    if (this.stopping.signal.aborted) throw shuttingDown();
    if (timeout.aborted) {
      throw new GatewayTimeoutException({
        error: `nmap did not finish within ${this.config.nmapRunTimeoutMs} ms`,
      });
    }
    if (result.exitCode !== 0) {
      throw new HttpException(
        {
          error: `nmap failed with exit code ${result.exitCode ?? result.signal}`,
          exit_code: result.exitCode,
          stderr: result.stderr,
          detail: result.stderr,
          stdout: result.stdout,
        },
        HttpStatus.INTERNAL_SERVER_ERROR,
      );
    }
    return { stdout: result.stdout, exit_code: result.exitCode };
  }
}

function shuttingDown(): ServiceUnavailableException {
  return new ServiceUnavailableException({
    error: 'The gateway is shutting down: nmap was stopped; run it again',
  });
}
