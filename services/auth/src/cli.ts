#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { createLogger } from '@mp3converter/shared/logger';
import { loadConfig } from '@mp3converter/shared/config';
import { authConfigSchema } from './config.js';
import { openAuthStore } from './store.js';

const usage = `usage: mp3converter-auth add-user <email> [--admin] [--password-stdin]

Adds a user to the auth database named by the MYSQL_* variables. The password is read from
NEW_USER_PASSWORD, else from standard input (one line; --password-stdin for pipes, a prompt otherwise).
Exit codes: 0 created, 3 the email already exists, 2 usage, 1 any other failure.`;

async function readPassword(): Promise<string> {
  if (process.env.NEW_USER_PASSWORD) return process.env.NEW_USER_PASSWORD;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  if (process.stdin.isTTY) process.stderr.write('password: ');
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { admin: { type: 'boolean', default: false }, 'password-stdin': { type: 'boolean', default: false }, help: { type: 'boolean' } },
  });
  const [command, email] = positionals;
  if (values.help || command !== 'add-user' || !email) {
    process.stderr.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  // The CLI never signs tokens, so a placeholder secret keeps the schema's JWT_SECRET rule out of its way.
  const config = loadConfig(authConfigSchema, { JWT_SECRET: 'x'.repeat(32), ...process.env, LOG_LEVEL: 'warn' });
  const logger = createLogger({ service: 'auth-cli', level: 'warn' });
  const store = openAuthStore(config, logger);
  try {
    await store.prepare();
    const created = await store.auth.addUser(email, await readPassword(), values.admin);
    process.stdout.write(created ? `created ${email.trim().toLowerCase()}\n` : `${email} already exists\n`);
    return created ? 0 : 3;
  } finally {
    await store.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
