// How every process ends: on SIGTERM or SIGINT it closes the Nest application (each module releases what it
// holds, workers finish their batches) and exits 0, so an orchestrator sees a clean stop.
import { ConsoleLogger, INestApplicationContext, Logger } from '@nestjs/common';
import { AppConfig, enabledLogLevels } from '@nso/config';

/**
 * The logger every main.ts hands Nest: the levels LOG_LEVEL enables, coloured only on a terminal. Nest colours
 * unless NO_COLOR is set, which filled container logs and files with escape codes an operator greps through.
 */
export function processLogger(config: Pick<AppConfig, 'logLevel'>): ConsoleLogger {
  return new ConsoleLogger({
    logLevels: enabledLogLevels(config.logLevel),
    colors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  });
}

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
