import { describe, expect, it } from 'vitest';
import { run } from '../cli.js';
import { fakeIo } from '../testing.fake.js';
import { expiryOf, scopesOf } from './keys.js';

const now = Date.parse('2030-01-01T00:00:00Z');

describe('--expires', () => {
  it.each([
    ['12h', '2030-01-01T12:00:00.000Z'],
    ['30d', '2030-01-31T00:00:00.000Z'],
    ['2w', '2030-01-15T00:00:00.000Z'],
    ['1y', '2031-01-01T00:00:00.000Z'],
    ['2031-06-01', '2031-06-01T00:00:00.000Z'],
    ['2031-06-01T09:30:00+02:00', '2031-06-01T07:30:00.000Z'],
    ['2031-06-01T09:30Z', '2031-06-01T09:30:00.000Z'],
  ])('when it is %s, then the key expires at %s', (raw, iso) => {
    expect(expiryOf(raw, now)).toBe(iso);
  });

  it.each(['tomorrow', '30', '5m', '2031-06-01T09:30:00', '2031-13-45', '-1d', '--help', '9'.repeat(50) + 'd'])(
    'when it is %s, then it is a usage error',
    (raw) => {
      expect(() => expiryOf(raw, now)).toThrow(/--expires must be/);
    },
  );
});

describe('--scope', () => {
  it('when scopes are repeated or comma-separated, then each counts once', () => {
    expect(scopesOf({ values: { scope: ['upload,read', 'read'] }, positionals: [] })).toEqual(['upload', 'read']);
  });

  it('when a scope is unknown or none is given, then it is a usage error', () => {
    expect(() => scopesOf({ values: { scope: ['admin'] }, positionals: [] })).toThrow(/unknown scope "admin"/);
    expect(() => scopesOf({ values: {}, positionals: [] })).toThrow(/at least one --scope/);
  });
});

describe('mp3c keys, before any request', () => {
  const offline = { XDG_CONFIG_HOME: '/nonexistent/mp3c-test', MP3C_GATEWAY: 'http://127.0.0.1:9' };

  it.each([
    [['keys'], /keys needs one of create, list, revoke/],
    [['keys', 'frobnicate'], /unknown keys command "frobnicate"/],
    [['keys', 'create', '--scope', 'read'], /give the key a --name/],
    [['keys', 'create', '--name', '--help', '--scope', 'read'], /--name/],
    [['keys', 'create', '--name', 'ci', '--scope', 'root'], /unknown scope "root"/],
    [['keys', 'list', '--scope', 'read'], /--scope is for keys create/],
    [['keys', 'revoke'], /needs the ID of a key/],
    [['keys', 'revoke', '--', '--help'], /not a key id: "--help"/],
    [['keys', 'revoke', '../../etc/passwd'], /not a key id/],
    [['keys', 'revoke', 'a\u001b[2Jb'], /not a key id: "a\?\[2Jb"/],
  ])('when the command line is %j, then exit 2 with a message', async (argv, message) => {
    const io = fakeIo(offline);
    expect(await run(argv, io)).toBe(2);
    expect(io.stderr.text).toMatch(message);
    expect(io.stdout.text).toBe('');
  });

  it('when there is no login, then keys list exits 3 before any request', async () => {
    const io = fakeIo(offline);
    expect(await run(['keys', 'list'], io)).toBe(3);
  });
});
