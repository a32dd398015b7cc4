import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { captureLogger, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../../services/auth/test/helpers.js';
import { type Stack, startStack } from '../../../services/gateway/test/harness.js';

/** The built mp3c against a real gateway that listens on every interface, reached on this machine's network address. */
const root = new URL('../../..', import.meta.url).pathname;
const main = join(root, 'packages/cli/dist/main.js');
const run = promisify(execFile);
/** An address of this machine that is not loopback: what a gateway elsewhere on the network looks like. */
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && !i.internal && i.family === 'IPv4')?.address;

let stack: Stack;
let work: string;
const gatewayLog = captureLogger('gateway');

beforeAll(async () => {
  await run('pnpm', ['--filter', '@mp3converter/shared', '--filter', '@mp3converter/cli', 'build'], { cwd: root });
  stack = await startStack({ HOST: '0.0.0.0' }, undefined, gatewayLog.logger);
  work = await mkdtemp(join(tmpdir(), 'mp3c-login-'));
});
afterAll(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function mp3c(args: string[], password: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: work, XDG_CONFIG_HOME: work } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(`${password}\n`);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const logins = () => gatewayLog.lines().filter((l) => l.path === '/login');

describe('mp3c login over the network', () => {
  it.skipIf(!lanAddress)(
    'when the gateway is plain http:// on a host that is not loopback, then the password is not sent unless --insecure is given',
    async () => {
      const { email, password } = await addUser(stack.authConfig);
      const gateway = `http://${lanAddress}:${stack.gateway.http.port}`;

      const refused = await mp3c(['login', '--gateway', gateway, '--email', email, '--password-stdin'], password);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/plain http.*https:\/\/.*--insecure/s);

      const insecure = await mp3c(['login', '--gateway', gateway, '--email', email, '--password-stdin', '--insecure'], password);
      expect(insecure).toMatchObject({ code: 0, stdout: `logged in to ${gateway} as ${email}\n` });
      // The login that went through is in the gateway's log: the refused one would be there too had it been sent.
      await waitFor(async () => logins().length >= 1, { what: 'the login to be logged' });
      expect(logins()).toHaveLength(1);
    },
  );
});
