import { ShutdownRegistry, exitOnStartupError } from '@mp3converter/shared/lifecycle';
import { createLogger } from '@mp3converter/shared/logger';
import { loadConfig } from './config.js';
import { startAuthServer } from './server.js';

const bootLogger = createLogger({ service: 'auth', level: process.env.LOG_LEVEL ?? 'info' });

try {
  const config = loadConfig();
  const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL });
  const shutdown = new ShutdownRegistry({ deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger });
  shutdown.installSignalHandlers();
  const server = await startAuthServer(config, logger);
  shutdown.register('http and mysql', () => server.stop());
} catch (err) {
  exitOnStartupError(bootLogger, err);
}
