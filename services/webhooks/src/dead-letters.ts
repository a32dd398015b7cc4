#!/usr/bin/env node
import { deadLetterCommand } from '@mp3converter/shared/amqp';
import { env, loadConfig, z } from '@mp3converter/shared/config';

// `node dist/dead-letters.js list|replay <queue>.dead [--limit N] [--to <queue>]`, also inside the pod.
const { RABBITMQ_URL } = loadConfig(z.object({ RABBITMQ_URL: env.amqpUrl() }));
deadLetterCommand(process.argv.slice(2), RABBITMQ_URL, (line) => process.stdout.write(`${line}\n`)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
