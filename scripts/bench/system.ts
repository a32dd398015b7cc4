import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniqueEmail } from '@mp3converter/shared/testing';
import { root } from './common.js';

const run = promisify(execFile);

/** Where the system `scripts/start.sh` runs listens (it writes this file once every service is ready). */
export interface System {
  gateway: string;
  mail: string;
  pids: string;
  mysql: { host: string; port: number; user: string; password: string; database: string };
}

export const readSystem = async (): Promise<System> => JSON.parse(await readFile(join(root, '.local/run/system.json'), 'utf8')) as System;

export interface User {
  email: string;
  password: string;
  token: string;
}

/** A user made with the auth CLI (the documented way), logged in through the gateway. */
export async function newUser(system: System, prefix: string): Promise<User> {
  const email = uniqueEmail(prefix);
  const password = randomBytes(9).toString('base64');
  const { mysql } = system;
  await run(process.execPath, ['services/auth/dist/cli.js', 'add-user', email], {
    cwd: root,
    env: {
      ...process.env,
      MYSQL_HOST: mysql.host,
      MYSQL_PORT: String(mysql.port),
      MYSQL_USER: mysql.user,
      MYSQL_PASSWORD: mysql.password,
      MYSQL_DB: mysql.database,
      NEW_USER_PASSWORD: password,
    },
  });
  const res = await fetch(`${system.gateway}/login`, { method: 'POST', headers: { authorization: basic(email, password) } });
  if (!res.ok) throw new Error(`login failed: ${res.status}`);
  return { email, password, token: await res.text() };
}

export const basic = (email: string, password: string) => `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
