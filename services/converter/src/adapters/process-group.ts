import type { Readable } from 'node:stream';
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The environment of every child: PATH alone, to find ffmpeg and whatever a wrapper script in FFMPEG_PATH
 * calls. Nothing else of the worker's environment (the broker and database URLs with their credentials, or
 * ffmpeg's own variables such as FFREPORT) reaches a process that reads untrusted files.
 */
export function childEnvironment(parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { PATH: parent.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
}

const alive = new Set<ChildProcess>();

/**
 * Children are spawned detached, so each leads a process group of its own, and SIGKILL goes to the whole
 * group: a wrapper script's children die with it and no pipe stays open. Only a child not yet reaped is
 * signalled, so its group id cannot belong to anyone else.
 */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone between the check and the signal
  }
}

let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Detached children would outlive a worker that exits without stopping them (a crash, process.exit).
    process.once('exit', () => {
      for (const c of alive) killGroup(c);
    });
  }
  if (child.pid === undefined) return;
  alive.add(child);
  child.once('exit', () => alive.delete(child));
}

/** The children of one job, killed together; one that starts after `killAll` is killed at once. */
export class ChildGroup {
  private readonly children = new Set<ChildProcess>();
  private stopped = false;

  add(child: ChildProcess): void {
    track(child);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    if (this.stopped) killGroup(child);
  }

  killAll(): void {
    this.stopped = true;
    for (const child of this.children) killGroup(child);
  }
}

export class ProcessTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`still running after ${timeoutMs} ms`);
    this.name = 'ProcessTimedOut';
  }
}

export class OutputTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`wrote more than ${maxBytes} bytes to stdout`);
    this.name = 'OutputTooLarge';
  }
}

export interface RunOptions {
  /** Wall-clock limit; past it the process group is killed and the run rejects with ProcessTimedOut. */
  timeoutMs: number;
  /** Aborting kills the process group and rejects with the signal's reason. */
  signal: AbortSignal;
  /** Standard output beyond this kills the process group (OutputTooLarge). */
  maxStdoutBytes: number;
  /**
   * Fed to standard input (else none). The process may stop reading early; should the stream fail, the
   * process group is killed and the run rejects with the stream's error. It is destroyed when the run ends.
   */
  stdin?: Readable;
  /** Hears each line of standard error as it comes; a line ends at `\n`, `\r\n` or `\r` (ffmpeg's statistics line). */
  onStderrLine?: (line: string) => void;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  /** The last 64 KiB of standard error. */
  stderr: string;
}

const STDERR_KEPT = 64 * 1024;
const LINE_END = /\r\n|\r|\n/;

/** Runs a program to its end with the minimal environment, a wall-clock limit and abort, in its own process group. */
export function runProcess(file: string, args: readonly string[], { timeoutMs, signal, maxStdoutBytes, stdin, onStderrLine }: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const group = new ChildGroup();
    let failure: unknown;
    const stop = (reason: unknown) => {
      failure ??= reason;
      group.killAll();
    };
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let partial = '';

    const child = spawn(file, args, { env: childEnvironment(), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    group.add(child);
    // A reader that has what it needs closes its end: EPIPE then only means it stopped early.
    child.stdin.on('error', () => undefined);
    if (stdin) {
      stdin.on('error', (err) => stop(err));
      stdin.pipe(child.stdin);
    } else child.stdin.end();
    const timer = setTimeout(() => stop(new ProcessTimedOut(timeoutMs)), timeoutMs);
    const onAbort = () => stop(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdoutBytes) stop(new OutputTooLarge(maxStdoutBytes));
      else stdout.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEPT);
      if (!onStderrLine) return;
      const lines = (partial + chunk).split(LINE_END);
      partial = (lines.pop() ?? '').slice(-STDERR_KEPT);
      for (const line of lines) onStderrLine(line);
    });
    child.on('error', (err) => {
      failure ??= err;
    });
    child.on('close', (code) => {
      if (partial) onStderrLine?.(partial);
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      stdin?.destroy();
      if (failure !== undefined) reject(failure);
      else resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr });
    });
  });
}
