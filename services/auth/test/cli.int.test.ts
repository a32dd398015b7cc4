import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { uniqueEmail } from '@mp3converter/shared/testing';
import { expect, it } from 'vitest';
import { basic, mysqlEnv, startAuth, testConfig } from './helpers.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/** Runs the CLI from source the way `pnpm --filter @mp3converter/auth user:add` runs its build. */
async function addUser(args: string[], env: Record<string, string>) {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=source', cli, 'add-user', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

it('when a user is added with the CLI, then they can log in, and adding them again exits 3', async () => {
  const config = testConfig();
  const email = uniqueEmail('cli');
  const env = { ...mysqlEnv(), MYSQL_DB: config.MYSQL_DB, NEW_USER_PASSWORD: 'from-the-cli' };
  const first = await addUser([email, '--admin'], env);
  expect(first).toMatchObject({ code: 0, stdout: `created ${email}\n` });
  expect((await addUser([email], env)).code).toBe(3);

  const server = await startAuth(config);
  try {
    const res = await fetch(`${server.http.url}/login`, { method: 'POST', headers: { authorization: basic(email, 'from-the-cli') } });
    expect(res.status).toBe(200);
  } finally {
    await server.stop();
  }
});

it('when the CLI is called without an email, then it prints usage and exits 2', async () => {
  const result = await addUser([], mysqlEnv());
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('usage: mp3converter-auth add-user');
});
