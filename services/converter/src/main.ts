import { ShutdownRegistry, exitOnStartupError } from '@mp3converter/shared/lifecycle';
import { createLogger } from '@mp3converter/shared/logger';
import { loadConfig } from './config.js';
import { startConverterWorker } from './worker.js';

const bootLogger = createLogger({ service: 'converter', level: process.env.LOG_LEVEL ?? 'info' });

try {
  const config = loadConfig();
  const logger = createLogger({ service: 'converter', level: config.LOG_LEVEL });
  const shutdown = new ShutdownRegistry({ deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger });
  shutdown.installSignalHandlers();
  const worker = await startConverterWorker(config, logger);
  shutdown.register('stop consuming, drain conversions, close broker and storage', () => worker.stop());
} catch (err) {
  exitOnStartupError(bootLogger, err);
}
