import { ShutdownRegistry, exitOnStartupError } from '@mp3converter/shared/lifecycle';
import { createLogger } from '@mp3converter/shared/logger';
import { loadConfig } from './config.js';
import { startNotificationWorker } from './worker.js';

const bootLogger = createLogger({ service: 'notification', level: process.env.LOG_LEVEL ?? 'info' });

try {
  const config = loadConfig();
  const logger = createLogger({ service: 'notification', level: config.LOG_LEVEL });
  const shutdown = new ShutdownRegistry({ deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger });
  shutdown.installSignalHandlers();
  const worker = await startNotificationWorker(config, logger);
  shutdown.register('stop consuming, drain sends, close broker and storage', () => worker.stop());
} catch (err) {
  exitOnStartupError(bootLogger, err);
}
