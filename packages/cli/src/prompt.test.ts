import { describe, expect, it } from 'vitest';
import type { Input } from './context.js';
import { askLine, readAll } from './prompt.js';
import { FakeOutput, fakeInput } from './testing.fake.js';

/** A terminal that types `keys` once asked, and records its raw mode. */
function terminal(keys: string): Input & { modes: boolean[] } {
  let listener: ((chunk: Buffer) => void) | undefined;
  const modes: boolean[] = [];
  return {
    isTTY: true,
    modes,
    setRawMode: (raw: boolean) => modes.push(raw),
    async *[Symbol.asyncIterator]() {},
    on: (_e, l) => {
      listener = l;
    },
    off: () => {
      listener = undefined;
    },
    resume: () => setImmediate(() => listener?.(Buffer.from(keys))),
    pause: () => undefined,
  };
}

describe('prompts', () => {
  it('when a password is typed, then nothing is echoed, Backspace takes a character back, and raw mode is undone', async () => {
    const stdin = terminal('sec\u007fcret\rignored');
    const stderr = new FakeOutput(true);
    expect(await askLine(stdin, stderr, 'password: ', { hidden: true })).toBe('secret');
    expect(stderr.text).toBe('password: \n');
    expect(stdin.modes).toEqual([true, false]);
  });

  it('when Ctrl-C is pressed at a prompt, then it is an interruption (exit 130)', async () => {
    await expect(askLine(terminal('ab\u0003'), new FakeOutput(true), 'password: ', { hidden: true })).rejects.toMatchObject({ exitCode: 130 });
  });

  it('when the password comes on stdin, then one trailing newline is dropped and nothing else', async () => {
    expect(await readAll(fakeInput('p a s s \n'))).toBe('p a s s ');
    expect(await readAll(fakeInput('pass\r\n'))).toBe('pass');
    expect(await readAll(fakeInput(''))).toBe('');
  });
});
