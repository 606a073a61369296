import { DynamicModule, FactoryProvider, Module } from '@nestjs/common';
import { ScanEventHub } from './scan-event-hub';
import { ScanEventLog } from './scan-event-log';
import {
  assertEventLogOptions,
  DEFAULT_EVENT_LOG_OPTIONS,
  EVENT_LOG_OPTIONS,
  EventLogOptions,
  SCAN_SEQ_RESERVATIONS,
  ScanEventPublisher,
  ScanSeqReservations,
} from './scan-event-publisher';

export interface ScanEventsModuleOptions extends Partial<EventLogOptions> {
  /** Where seqs are reserved durably; without it a counter lost with Redis restarts at 1. */
  seqReservations?: Omit<FactoryProvider<ScanSeqReservations>, 'provide'>;
}

/**
 * The per-scan event stream: publisher (workers), log and hub (gateways). Global, like the RedisModule it relies on,
 * so it is registered once in an app's root module. The hub opens its subscriber connection only when first used.
 */
@Module({})
export class ScanEventsModule {
  static forRoot(options: ScanEventsModuleOptions = {}): DynamicModule {
    const resolved: EventLogOptions = {
      maxLength: options.maxLength ?? DEFAULT_EVENT_LOG_OPTIONS.maxLength,
      ttlSeconds: options.ttlSeconds ?? DEFAULT_EVENT_LOG_OPTIONS.ttlSeconds,
    };
    assertEventLogOptions(resolved);
    const providers = [ScanEventPublisher, ScanEventLog, ScanEventHub];
    return {
      module: ScanEventsModule,
      global: true,
      providers: [
        { provide: EVENT_LOG_OPTIONS, useValue: resolved },
        ...(options.seqReservations ? [{ provide: SCAN_SEQ_RESERVATIONS, ...options.seqReservations }] : []),
        ...providers,
      ],
      exports: [EVENT_LOG_OPTIONS, ...providers],
    };
  }
}
