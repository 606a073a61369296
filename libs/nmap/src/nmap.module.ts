// Nest wiring for the nmap library: the only file of libs/nmap that knows about Nest.
import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { NmapArgumentPolicy } from './argument-policy';
import { NmapProcessRunner } from './runner';
import { ScanScope } from './scope';

/** Injection token of the nmap process runner, so tests can hand in another implementation. */
export const NMAP_RUNNER = Symbol('NMAP_RUNNER');

@Global()
@Module({
  providers: [
    NmapArgumentPolicy,
    { provide: NMAP_RUNNER, useClass: NmapProcessRunner },
    {
      provide: ScanScope,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new ScanScope(config.scanScopeAllow, config.scanScopeDeny),
    },
  ],
  exports: [NmapArgumentPolicy, NMAP_RUNNER, ScanScope],
})
export class NmapModule {}
