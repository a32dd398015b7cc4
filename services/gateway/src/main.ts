import { runService } from '@mp3converter/shared/lifecycle';
import { loadConfig } from './config.js';
import { startGatewayServer } from './server.js';

await runService('gateway', loadConfig, startGatewayServer);
