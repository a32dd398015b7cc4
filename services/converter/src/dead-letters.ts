#!/usr/bin/env node
import { runDeadLetterProgram } from '@mp3converter/shared/amqp';
import { env, loadConfig, z } from '@mp3converter/shared/config';

// `node dist/dead-letters.js list|replay <queue>.dead [--limit N] [--to <queue>]`, also inside the pod.
runDeadLetterProgram(process.argv.slice(2), loadConfig(z.object({ RABBITMQ_URL: env.amqpUrl() })).RABBITMQ_URL);
