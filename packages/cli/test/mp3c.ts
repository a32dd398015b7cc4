import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { addUser } from '../../../services/auth/test/helpers.js';
import type { Stack } from '../../../services/gateway/test/harness.js';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` (an mp3c: `node main.js`, or an installed `mp3c`) to its end, with `input` on stdin. */
export function runCommand(command: readonly string[], args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const [file, ...pre] = command;
    const child = spawn(file!, [...pre, ...args], { cwd, env });
    const out: Result = { code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...out, code }));
    child.stdin.end(input);
  });
}

export interface User {
  email: string;
  password: string;
  /** A config folder of its own (XDG_CONFIG_HOME): nothing kept by one user's mp3c is seen by another's. */
  config: string;
  /** Runs mp3c as this user, against the stack's gateway; `env` adds to (or overrides) the environment. */
  mp3c(args: readonly string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<Result>;
}

/**
 * A new user of `stack` at a terminal of their own: HOME and the config folder under `work`, PATH only
 * `path`, nothing else of this process's environment.
 */
export async function newUser(stack: Stack, command: readonly string[], work: string, path: string): Promise<User> {
  const { email, password } = await addUser(stack.authConfig);
  const config = await mkdtemp(join(work, 'config-'));
  const base = { PATH: path, HOME: work, XDG_CONFIG_HOME: config, MP3C_GATEWAY: stack.url };
  return {
    email,
    password,
    config,
    mp3c: (args, { input, env } = {}) => runCommand(command, args, { ...base, ...env }, work, input),
  };
}

/** Logs the user in with their password through mp3c itself. */
export async function passwordLogin(user: User): Promise<void> {
  const res = await user.mp3c(['login', '--email', user.email, '--password-stdin'], { input: `${user.password}\n` });
  if (res.code !== 0) throw new Error(`login failed: ${res.stderr}`);
}
