import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export const servers = {
  mysqlUrl: process.env.TEST_MYSQL_URL ?? 'mysql://root:@127.0.0.1:3306',
  mongoUrl: process.env.TEST_MONGODB_URL ?? 'mongodb://127.0.0.1:27017',
  rabbitUrl: process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
};

export interface Service {
  process: ChildProcess;
  /** Peak resident memory so far (VmHWM), MiB. */
  peakRssMiB(): Promise<number>;
  /** Resident memory now (VmRSS), MiB. */
  rssMiB(): Promise<number>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
// Whatever happens to the benchmark, the services it started go with it.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Runs a built service (`services/<name>/dist/main.js`) as its own process, as in production. */
/** Node flags a service runs with in its image (see its Dockerfile's NODE_OPTIONS). */
export const SERVICE_NODE_OPTIONS: Record<string, string> = { gateway: '--max-semi-space-size=1', converter: '--max-semi-space-size=1' };

export async function startService(name: string, env: Record<string, string>, readyUrl: string): Promise<Service> {
  const child = spawn(process.execPath, [`services/${name}/dist/main.js`], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', NODE_OPTIONS: SERVICE_NODE_OPTIONS[name] ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready`);
    try {
      if ((await fetch(readyUrl)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    process: child,
    peakRssMiB: () => procStatusMiB(child.pid!, 'VmHWM'),
    rssMiB: () => procStatusMiB(child.pid!, 'VmRSS'),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

async function procStatusMiB(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

export const mib = (bytes: number) => bytes / 1024 ** 2;
export const fmt = (n: number, digits = 1) => n.toFixed(digits);
