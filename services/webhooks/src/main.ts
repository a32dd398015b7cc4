import { runService } from '@mp3converter/shared/lifecycle';
import { loadConfig } from './config.js';
import { startWebhooksWorker } from './worker.js';

await runService('webhooks', loadConfig, startWebhooksWorker);
