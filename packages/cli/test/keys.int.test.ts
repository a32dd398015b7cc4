import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { makeVideo } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../../services/gateway/test/harness.js';
import { type User, newUser, passwordLogin } from './mp3c.js';

/** mp3c's API keys (the built dist/main.js) against a real auth and gateway, as a user and a script see them. */
const root = new URL('../../..', import.meta.url).pathname;
const mp3c = [process.execPath, join(root, 'packages/cli/dist/main.js')];
const run = promisify(execFile);
let stack: Stack;
let work: string;
let video: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await run('pnpm', ['--filter', '@mp3converter/cli', 'build'], { cwd: root });
  stack = await startStack();
  work = await mkdtemp(join(tmpdir(), 'mp3c-keys-'));
  const made = await makeVideo({ seconds: 1 });
  cleanups.push(made.cleanup);
  video = made.path;
});
afterAll(async () => {
  await stack?.stop();
  for (const c of cleanups) await c();
  if (work) await rm(work, { recursive: true, force: true });
});

const user = () => newUser(stack, mp3c, work, dirname(process.execPath));

async function loggedIn(): Promise<User> {
  const u = await user();
  await passwordLogin(u);
  return u;
}

/** `mp3c keys create`: the key (stdout) and its id. */
async function createKey(u: User, args: string[]): Promise<{ key: string; id: string }> {
  const res = await u.mp3c(['keys', 'create', ...args]);
  expect(res.code, res.stderr).toBe(0);
  const key = res.stdout.trim();
  return { key, id: key.slice(5, 21) };
}

describe('mp3c keys', () => {
  it('when a key is created, then it alone is printed once, it is listed without its secret, and revoke removes it', async () => {
    const u = await loggedIn();
    const created = await u.mp3c(['keys', 'create', '--name=--help', '--scope', 'upload,read', '--expires', '30d']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^mp3c_[0-9a-z]{16}_[0-9A-Za-z]{40}\n$/);
    const id = created.stdout.slice(5, 21);
    expect(created.stderr).toMatch(
      new RegExp(`^created API key ${id} \\(upload, read, until \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\): it is shown this once, keep it now\\n$`),
    );

    const table = await u.mp3c(['keys', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+SCOPES\s+CREATED\s+EXPIRES\s+LAST_USED\s+NAME$/);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+upload,read\\s+\\S+\\s+\\S+\\s+never\\s+--help$`, 'm'));
    expect(table.stdout).not.toContain(created.stdout.trim());
    const listed = JSON.parse((await u.mp3c(['keys', 'list', '--json'])).stdout);
    expect(listed).toMatchObject({ limit: 20, keys: [{ id, name: '--help', scopes: ['upload', 'read'], expired: false }] });
    expect(listed.keys[0]).not.toHaveProperty('key');

    expect(await u.mp3c(['keys', 'revoke', id])).toMatchObject({ code: 0, stdout: `${id}: revoked\n` });
    expect(await u.mp3c(['keys', 'list'])).toMatchObject({ code: 0, stdout: '', stderr: 'no API keys (you may hold 20)\n' });
    expect(await u.mp3c(['keys', 'revoke', id])).toMatchObject({ code: 4, stderr: `mp3c: ${id}: no such API key\n` });
  });

  it('when a name the gateway refuses is given, then exit 1 with its reason and no key', async () => {
    const u = await loggedIn();
    const res = await u.mp3c(['keys', 'create', '--name', 'a\u001b[2Jb', '--scope', 'read']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/invalid_key_request: name: must not contain control or bidirectional characters/);
    const long = await u.mp3c(['keys', 'create', '--name', 'x'.repeat(101), '--scope', 'read']);
    expect(long.stderr).toMatch(/name: must be at most 100 characters/);
    expect((await u.mp3c(['keys', 'list'])).stderr).toBe('no API keys (you may hold 20)\n');
  });

  it("when someone revokes another user's key id, then exit 4 and the key still works", async () => {
    const ann = await loggedIn();
    const bob = await loggedIn();
    const { key, id } = await createKey(ann, ['--name', 'ci', '--scope', 'read']);
    expect((await bob.mp3c(['keys', 'revoke', id])).code).toBe(4);
    expect((await (await user()).mp3c(['jobs'], { env: { MP3C_API_KEY: key } })).code).toBe(0);
  });
});

describe('a script with a key', () => {
  it('when MP3C_API_KEY is set, then it is used within its scopes, and keys cannot be managed with it', async () => {
    const owner = await loggedIn();
    const { key } = await createKey(owner, ['--name', 'reader', '--scope', 'read']);
    const script = await user();
    const env = { MP3C_API_KEY: key };
    expect(await script.mp3c(['jobs', '--json'], { env })).toMatchObject({ code: 0, stdout: '[]\n' });
    const upload = await script.mp3c(['upload', video], { env });
    expect(upload.code).toBe(3);
    expect(upload.stderr).toMatch(/this API key lacks the "upload" scope: use a key that has it \(mp3c keys create\) or a password login/);
    const manage = await script.mp3c(['keys', 'list'], { env });
    expect(manage.code).toBe(3);
    expect(manage.stderr).toMatch(/log in with your password/);
    // Nothing was kept on the script's machine: the key lives in its environment only.
    await expect(stat(join(script.config, 'mp3c/login.json'))).rejects.toThrow(/ENOENT/);
  });

  it('when login --api-key takes a key, then it is kept readable by its owner alone and used; once revoked, commands exit 3', async () => {
    const owner = await loggedIn();
    const { key, id } = await createKey(owner, ['--name', 'uploader', '--scope', 'upload']);
    const script = await user();
    const login = await script.mp3c(['login', '--api-key'], { input: `${key}\n` });
    expect(login).toMatchObject({ code: 0, stdout: `logged in to ${stack.url} with API key ${id}\n` });
    const file = join(script.config, 'mp3c/login.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).logins[stack.url]).toMatchObject({ email: null, token: key, key_id: id });
    const up = await script.mp3c(['upload', video]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^[0-9a-f]{24}\n$/);

    expect((await owner.mp3c(['keys', 'revoke', id])).code).toBe(0);
    const after = await script.mp3c(['upload', video]);
    expect(after.code).toBe(3);
    expect(after.stderr).toMatch(/the API key was refused \(invalid API key\)/);
  });

  it('when login --api-key is given a key the gateway does not know, then exit 3 and nothing is kept', async () => {
    const script = await user();
    const res = await script.mp3c(['login', '--api-key'], { input: `mp3c_${'0'.repeat(16)}_${'A'.repeat(40)}\n` });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/the API key was refused/);
    await expect(stat(join(script.config, 'mp3c/login.json'))).rejects.toThrow(/ENOENT/);
  });
});
