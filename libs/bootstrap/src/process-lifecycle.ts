// How every process ends: on SIGTERM or SIGINT it closes the Nest application (each module releases what it
// holds, workers finish their batches) and exits 0, so an orchestrator sees a clean stop.
import { INestApplicationContext, Logger } from '@nestjs/common';

export function closeOnSignals(app: INestApplicationContext, name: string): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    Logger.log(`${signal}: shutting down`, name);
    app
      .close()
      .then(() => {
        Logger.log('stopped', name);
        process.exit(0);
      })
      .catch((error: Error) => {
        Logger.error(`shutdown failed: ${error.stack ?? error.message}`, name);
        process.exit(1);
      });
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
}
