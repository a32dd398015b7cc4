import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { pacedFfmpeg } from '@mp3converter/shared/testing';

/** What scripts/start.sh reports in .local/run/system.json once everything is ready. */
export interface SystemInfo {
  gateway: string;
  auth: string;
  mail: string;
  gatewayHealth: string;
  authHealth: string;
  converterHealth: string;
  notificationHealth: string;
  webhooksHealth: string;
  pids: string;
  mysql: { host: string; port: number; user: string; password: string; database: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    system: SystemInfo;
  }
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const systemFile = `${root}.local/run/system.json`;

/**
 * Starts the whole system exactly as the README's start command does, and stops it after the tests. One
 * difference: the converter's ffmpeg reads at 40 × real time (FFMPEG_PATH, which the converter inherits), so
 * the long videos the tests kill or cancel mid-conversion are still converting when that happens, however
 * fast the machine; the short ones take a fraction of a second more.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await rm(systemFile, { force: true });
  const paced = await pacedFfmpeg(40);
  const child: ChildProcess = spawn('bash', ['scripts/start.sh'], {
    cwd: root,
    env: { ...process.env, FFMPEG_PATH: paced.path },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 240_000;
  let info: SystemInfo | undefined;
  while (!info) {
    if (child.exitCode !== null) throw new Error(`scripts/start.sh exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`scripts/start.sh was not ready in time:\n${output}`);
    try {
      info = JSON.parse(await readFile(systemFile, 'utf8')) as SystemInfo;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  project.provide('system', info);

  return async () => {
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
    clearTimeout(timer);
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
    await paced.cleanup();
    if (code === 'timeout') {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error('scripts/start.sh did not stop within 60 s of SIGTERM');
    }
  };
}
