#!/usr/bin/env node
import { runDeadLetterCommand } from '@mp3converter/shared/amqp';

// `node dist/dead-letters.js list|replay <queue>.dead [--limit N] [--to <queue>]`, also inside the pod.
runDeadLetterCommand();
