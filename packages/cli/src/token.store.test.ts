import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configDir } from './paths.js';
import { TokenStore } from './token.store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mp3c-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const login = (token: string) => ({ email: 'a@example.test', token, saved_at: '2026-01-01T00:00:00.000Z' });
const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('token store', () => {
  it('when a login is saved, then the folder is 0700 and the file 0600, and it is the default gateway from then on', async () => {
    const store = new TokenStore(join(root, 'mp3c'));
    await store.save('http://a:8080', login('t1'));
    expect(await mode(store.dir)).toBe(0o700);
    expect(await mode(store.path)).toBe(0o600);
    expect(await store.get('http://a:8080')).toEqual(login('t1'));
    expect(await store.current()).toBe('http://a:8080');
    await store.save('http://b:8080', login('t2'));
    expect(await store.current()).toBe('http://b:8080');
    expect((await store.get('http://a:8080'))?.token).toBe('t1');
    // replaced by rename: no temp file left behind
    expect(await readdir(store.dir)).toEqual(['login.json']);
  });

  it('when the folder was made open to others, then saving closes it again', async () => {
    const dir = join(root, 'mp3c');
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await new TokenStore(dir).save('http://a:8080', login('t'));
    expect(await mode(dir)).toBe(0o700);
  });

  it('when there is no file or it is not JSON, then there is no login, and the next save replaces it', async () => {
    const store = new TokenStore(join(root, 'mp3c'));
    expect(await store.get('http://a:8080')).toBeUndefined();
    await store.ensureDir();
    await writeFile(store.path, '{nope');
    expect(await store.current()).toBeUndefined();
    await store.save('http://a:8080', login('t'));
    expect(JSON.parse(await readFile(store.path, 'utf8')).logins['http://a:8080'].token).toBe('t');
    expect(await store.remove('http://a:8080')).toBe(true);
    expect(await store.current()).toBeUndefined();
  });

  it('when XDG_CONFIG_HOME is set (absolute), then the folder is under it, else under ~/.config', () => {
    expect(configDir({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/u' })).toBe('/x/conf/mp3c');
    expect(configDir({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.config/mp3c');
    expect(configDir({ HOME: '/home/u' })).toBe('/home/u/.config/mp3c');
  });
});
