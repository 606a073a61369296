import {
  BadRequestException,
  GatewayTimeoutException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import {
  assertSingleFamily,
  countTargets,
  NMAP_RUNNER,
  NmapArgumentPolicy,
  NmapRunner,
  parseTargets,
  ScanScope,
} from '@nso/nmap';
import { NmapRunDto, NmapRunResultDto } from './nmap-run.dto';

/** A one-off run answers synchronously, so it is kept to what one nmap process finishes in reasonable time. */
export const MAX_RUN_TARGETS = 4096;

@Injectable()
export class NmapRunService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NMAP_RUNNER) private readonly runner: NmapRunner,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
  ) {}

  async run(input: NmapRunDto, clientGone: AbortSignal): Promise<NmapRunResultDto> {
    const flags = this.policy.validate(input.nmap_flags);
    const specs = parseTargets(input.targets);
    assertSingleFamily(specs);
    const total = countTargets(specs);
    if (total > MAX_RUN_TARGETS) {
      throw new BadRequestException({
        error: `nmap/run takes at most ${MAX_RUN_TARGETS} addresses (got ${total}); use POST /api/scans/start`,
      });
    }
    await this.scope.checkSpecs(specs);

    const timeout = AbortSignal.timeout(this.config.nmapRunTimeoutMs);
    const result = await this.runner.run({
      nmapPath: this.config.nmapPath,
      flags,
      targets: input.targets,
      signal: AbortSignal.any([clientGone, timeout]),
    });
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
          stdout: result.stdout,
        },
        HttpStatus.INTERNAL_SERVER_ERROR,
      );
    }
    return { stdout: result.stdout, exit_code: result.exitCode };
  }
}
