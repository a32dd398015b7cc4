import { runService } from '@mp3converter/shared/lifecycle';
import { loadConfig } from './config.js';
import { startAuthServer } from './server.js';

await runService('auth', loadConfig, startAuthServer);
