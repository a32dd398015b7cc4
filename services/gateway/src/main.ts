import { ShutdownRegistry, exitOnStartupError } from '@mp3converter/shared/lifecycle';
import { createLogger } from '@mp3converter/shared/logger';
import { loadConfig } from './config.js';
import { startGatewayServer } from './server.js';

const bootLogger = createLogger({ service: 'gateway', level: process.env.LOG_LEVEL ?? 'info' });

try {
  const config = loadConfig();
  const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
  const shutdown = new ShutdownRegistry({ deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger });
  shutdown.installSignalHandlers();
  const server = await startGatewayServer(config, logger);
  shutdown.register('drain uploads, close broker and storage', () => server.stop());
} catch (err) {
  exitOnStartupError(bootLogger, err);
}
