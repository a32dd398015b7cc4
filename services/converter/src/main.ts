import { runService } from '@mp3converter/shared/lifecycle';
import { loadConfig } from './config.js';
import { startConverterWorker } from './worker.js';

await runService('converter', loadConfig, startConverterWorker);
