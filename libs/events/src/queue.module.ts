import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { BATCH_QUEUE, DELTA_QUEUE, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl } from './redis-connection';

/** BullMQ's connection and the product's queues, registered the same way in every app. */
@Module({})
export class QueueModule {
  static forRoot(options: { url: string; prefix: string }): DynamicModule {
    const queues = BullModule.registerQueue({ name: BATCH_QUEUE }, { name: DELTA_QUEUE });
    return {
      module: QueueModule,
      global: true,
      imports: [
        BullModule.forRoot({
          connection: redisOptionsFromUrl(options.url),
          prefix: redisKeys(options.prefix).bullPrefix,
        }),
        queues,
      ],
      exports: [queues],
    };
  }
}
