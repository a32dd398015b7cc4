import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';
import { FakeOutput } from './testing.fake.js';

describe('progress', () => {
  it('when the output is not a terminal, then it prints one plain line per whole percent, and 100 only at the end', () => {
    const out = new FakeOutput(false);
    const p = createProgress(out, 'talk.mp4');
    p.update(0, 1000);
    p.update(4, 1000);
    p.update(420, 1000);
    p.update(425, 1000);
    p.update(999, 1000);
    p.update(1000, 1000);
    p.done();
    expect(out.text).toBe('talk.mp4: 0%\ntalk.mp4: 42%\ntalk.mp4: 99%\ntalk.mp4: 100%\n');
  });

  it('when the output is a terminal, then a bar is redrawn in place, at most every 100 ms, and a message goes above it', () => {
    const out = new FakeOutput(true, 80);
    let now = 0;
    const p = createProgress(out, 'talk.mp4', { now: () => now });
    p.update(512 * 1024, 2048 * 1024);
    now = 50;
    p.update(600 * 1024, 2048 * 1024);
    now = 200;
    p.say('resuming');
    p.update(1024 * 1024, 2048 * 1024);
    p.done();
    expect(out.text).toBe(
      '\rtalk.mp4 [######------------------]  25% 512.0 KiB of 2.0 MiB\x1b[K' +
        '\r\x1b[Kresuming\n' +
        '\rtalk.mp4 [############------------]  50% 1.0 MiB of 2.0 MiB\x1b[K\n',
    );
  });

  it('when the terminal is narrow, then the line is cut to fit', () => {
    const out = new FakeOutput(true, 20);
    createProgress(out, 'a-very-long-file-name.mp4').update(1, 2);
    expect(out.text).toBe('\ra-very-long-file-na\x1b[K');
  });
});
