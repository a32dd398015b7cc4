import { createMongoClient, pingMongo } from '@mp3converter/shared/storage';
import { createLogger } from '@mp3converter/shared/logger';
import { spawn } from 'node:child_process';
const withWatch = process.argv[2] === 'watch';
const logger = createLogger({ service: 'probe', level: 'warn' });
const client = createMongoClient('mongodb://127.0.0.1:27099', 'probe', withWatch ? logger : undefined);
try { await pingMongo(client); } catch (e) { console.log('first ping:', (e as Error).message); }
const relay = spawn('socat', ['TCP-LISTEN:27099,fork,reuseaddr', 'TCP:127.0.0.1:27017'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));
for (let i = 0; i < 4; i++) {
  try { await pingMongo(client); console.log('ping ok'); break; } catch (e) { console.log('ping:', (e as Error).message); }
  await new Promise((r) => setTimeout(r, 2000));
}
relay.kill();
await client.close();
