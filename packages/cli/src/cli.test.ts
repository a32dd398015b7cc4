import { describe, expect, it } from 'vitest';
import { run } from './cli.js';
import { normalizeGateway } from './context.js';
import { fakeInput, fakeIo } from './testing.fake.js';

describe('the command line', () => {
  it('when no command is given, then the usage goes to stderr with exit 2; --help prints it with exit 0', async () => {
    const io = fakeIo();
    expect(await run([], io)).toBe(2);
    expect(io.stderr.text).toMatch(/Usage: mp3c COMMAND/);
    const help = fakeIo();
    expect(await run(['--help'], help)).toBe(0);
    expect(help.stdout.text).toMatch(/Exit codes: 0 ok, 1 error, 2 usage, 3 login/);
  });

  it('when a command is unknown or its options are wrong, then exit 2 with a message', async () => {
    const io = fakeIo();
    expect(await run(['frobnicate'], io)).toBe(2);
    expect(io.stderr.text).toMatch(/unknown command "frobnicate"/);
    const bad = fakeIo();
    expect(await run(['jobs', '--limit', '500'], bad)).toBe(2);
    expect(bad.stderr.text).toMatch(/--limit must be a whole number from 1 to 100/);
  });

  it('when each command is asked for --help, then it prints its usage and the exit codes', async () => {
    for (const name of ['login', 'upload', 'status', 'jobs', 'download', 'cancel', 'logout', 'keys', 'completion']) {
      const io = fakeIo();
      expect(await run([name, '--help'], io)).toBe(0);
      expect(io.stdout.text).toMatch(new RegExp(`^Usage: mp3c ${name}`));
      expect(io.stdout.text).toMatch(/--gateway URL/);
    }
  });

  it('when a command needs a token and there is none, then exit 3 and "run mp3c login", before any request', async () => {
    const io = fakeIo({ XDG_CONFIG_HOME: '/nonexistent/mp3c-test', MP3C_GATEWAY: 'http://127.0.0.1:9' });
    expect(await run(['jobs'], io)).toBe(3);
    expect(io.stderr.text).toBe('mp3c: not logged in to http://127.0.0.1:9: run mp3c login\n');
  });

  it('when login has no terminal and no password source, then exit 2 saying how to give one', async () => {
    const io = fakeIo({ XDG_CONFIG_HOME: '/nonexistent/mp3c-test' });
    expect(await run(['login', '--email', 'a@example.test'], io)).toBe(2);
    expect(io.stderr.text).toMatch(/use --password-stdin or MP3C_PASSWORD/);
  });

  it('when asked for the version, then it prints the package version alone', async () => {
    for (const flag of ['--version', '-V', 'version']) {
      const io = fakeIo();
      expect(await run([flag], io)).toBe(0);
      expect(io.stdout.text).toMatch(/^\d+\.\d+\.\d+\n$/);
    }
  });

  it('when MP3C_API_KEY is set, then it is the credential, whatever login is kept', async () => {
    const io = fakeIo({ XDG_CONFIG_HOME: '/nonexistent/mp3c-test', MP3C_GATEWAY: 'http://127.0.0.1:9', MP3C_API_KEY: ' mp3c_x ' });
    // Not "not logged in" (exit 3): the request is made with the key, and the closed port answers.
    expect(await run(['jobs'], io)).toBe(1);
    expect(io.stderr.text).toMatch(/cannot reach the gateway at http:\/\/127\.0\.0\.1:9/);
  });

  it('when login --api-key is given a key that is not one, then exit 2 before any request', async () => {
    const io = fakeIo({ XDG_CONFIG_HOME: '/nonexistent/mp3c-test', MP3C_GATEWAY: 'http://127.0.0.1:9' }, fakeInput('mp3c_short\n'));
    expect(await run(['login', '--api-key'], io)).toBe(2);
    expect(io.stderr.text).toMatch(/not an API key: expected mp3c_<id>_<secret>/);
    const mixed = fakeIo({ XDG_CONFIG_HOME: '/nonexistent/mp3c-test' });
    expect(await run(['login', '--api-key', '--email', 'a@example.test'], mixed)).toBe(2);
    const clear = fakeIo({ XDG_CONFIG_HOME: '/nonexistent/mp3c-test', MP3C_GATEWAY: 'http://mp3converter.com' });
    expect(await run(['login', '--api-key'], clear)).toBe(2);
    expect(clear.stderr.text).toMatch(/the API key would cross the network/);
  });

  it('when a gateway address is given, then http(s) only, without a trailing slash', () => {
    expect(normalizeGateway('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(normalizeGateway('https://mp3converter.com')).toBe('https://mp3converter.com');
    expect(() => normalizeGateway('ftp://x')).toThrow(/http:\/\/ or https:\/\//);
    expect(normalizeGateway('localhost:8080')).toBe('http://localhost:8080');
    expect(() => normalizeGateway('http://')).toThrow(/not a gateway address/);
  });
});
