import type { Input, Output } from './context.js';
import { Interrupted } from './errors.js';

/**
 * Reads one line from a terminal. With `hidden`, nothing is echoed (the terminal in raw mode, the keys read
 * one by one): Enter ends it, Backspace takes a character back, Ctrl-C interrupts, Ctrl-U clears.
 */
export function askLine(
  stdin: Input,
  stderr: Output,
  question: string,
  { hidden = false, signal }: { hidden?: boolean; signal?: AbortSignal } = {},
): Promise<string> {
  stderr.write(question);
  return new Promise((resolve, reject) => {
    // Outside raw mode Ctrl-C comes as SIGINT, which aborts the signal.
    const onAbort = () => finish(new Interrupted());
    let answer = '';
    const raw = hidden && typeof stdin.setRawMode === 'function';
    if (raw) stdin.setRawMode?.(true);
    const finish = (result: string | Error) => {
      signal?.removeEventListener('abort', onAbort);
      stdin.off('data', onData);
      if (raw) stdin.setRawMode?.(false);
      stdin.pause();
      if (hidden) stderr.write('\n');
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(answer);
        if (ch === '\u0003') return finish(new Interrupted());
        if (ch === '\u0004' && answer === '') return finish(answer);
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else if (ch === '\u0015') answer = '';
        else if (ch >= ' ') answer += ch;
      }
    };
    if (signal?.aborted) return finish(new Interrupted());
    signal?.addEventListener('abort', onAbort, { once: true });
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** All of stdin, less one trailing newline (`echo "$PASSWORD" | mp3c login --password-stdin`). */
export async function readAll(stdin: Input): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
