import type { Input, Io, Output } from './context.js';

/** An output that keeps what was written. */
export class FakeOutput implements Output {
  text = '';
  constructor(
    readonly isTTY = false,
    readonly columns = 80,
  ) {}
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }
}

/** Standard input that gives `text` (or nothing) and is not a terminal. */
export function fakeInput(text = ''): Input {
  const listeners = new Set<(chunk: Buffer) => void>();
  return {
    isTTY: false,
    async *[Symbol.asyncIterator]() {
      if (text) yield Buffer.from(text);
    },
    on: (_e, l) => listeners.add(l),
    off: (_e, l) => listeners.delete(l),
    resume: () => undefined,
    pause: () => undefined,
  };
}

export function fakeIo(env: NodeJS.ProcessEnv = {}, stdin = fakeInput()): Io & { stdout: FakeOutput; stderr: FakeOutput } {
  return { stdout: new FakeOutput(), stderr: new FakeOutput(), stdin, env, signal: new AbortController().signal };
}
