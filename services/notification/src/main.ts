import { runService } from '@mp3converter/shared/lifecycle';
import { loadConfig } from './config.js';
import { startNotificationWorker } from './worker.js';

await runService('notification', loadConfig, startNotificationWorker);
