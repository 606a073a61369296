import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ControlMessage } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys, RedisOutageMonitor } from '@nso/events';
import Redis from 'ioredis';
import { BatchRunService } from './batch-run.service';

/** Listens for stop requests from any gateway and ends this worker's nmap processes of that run. */
@Injectable()
export class StopListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StopListener.name);
  private subscriber?: Redis;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
    private readonly batches: BatchRunService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subscriber = this.monitor.watchClient('stop listener', this.redis.duplicate());
    this.subscriber.on('message', (_channel: string, text: string) => {
      try {
        const message = JSON.parse(text) as ControlMessage;
        if (message.type === 'stop') this.batches.cancelRun(message.resultId);
      } catch (error) {
        this.logger.warn(`ignored control message: ${(error as Error).message}`);
      }
    });
    await this.subscriber.subscribe(this.keys.controlChannel);
  }

  async onApplicationShutdown(): Promise<void> {
    this.monitor.unwatchClient('stop listener');
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
