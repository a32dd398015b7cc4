import { afterEach, describe, expect, it, vi } from 'vitest';
import { StorageTimeoutError } from './deadline.js';
import { WriteGate } from './write-gate.js';

/** A write that ends when the test says so. */
function controlled() {
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return { write: () => done, finish, fail };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WriteGate', () => {
  it('when more writes come than the limit, then the others wait and go in order of arrival', async () => {
    const gate = new WriteGate(2, 1_000);
    const writes = Array.from({ length: 4 }, controlled);
    const started: number[] = [];
    const runs = writes.map((w, i) =>
      gate.run(() => {
        started.push(i);
        return w.write();
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(gate.load).toEqual({ active: 2, waiting: 2 });
    writes[1]!.finish();
    await runs[1];
    await vi.waitFor(() => expect(started).toEqual([0, 1, 2]));
    writes[0]!.fail(new Error('refused'));
    await expect(runs[0]).rejects.toThrow('refused');
    await vi.waitFor(() => expect(started).toEqual([0, 1, 2, 3]));
    writes[2]!.finish();
    writes[3]!.finish();
    await Promise.all([runs[2], runs[3]]);
    expect(gate.load).toEqual({ active: 0, waiting: 0 });
  });

  it('when a write waits longer than the stall time while others finish, then it is not failed', async () => {
    vi.useFakeTimers();
    const gate = new WriteGate(1, 1_000);
    const writes = Array.from({ length: 4 }, controlled);
    const runs = writes.map((w) => gate.run(w.write));
    for (const w of writes.slice(0, 3)) {
      await vi.advanceTimersByTimeAsync(800);
      w.finish();
    }
    await vi.advanceTimersByTimeAsync(800);
    writes[3]!.finish();
    await expect(Promise.all(runs)).resolves.toHaveLength(4);
  });

  it('when no write finishes for the stall time, then the waiting ones fail with StorageTimeoutError', async () => {
    vi.useFakeTimers();
    const gate = new WriteGate(1, 1_000);
    const stuck = controlled();
    void gate.run(stuck.write).catch(() => undefined);
    const waiting = gate.run(async () => 'never');
    const failed = expect(waiting).rejects.toBeInstanceOf(StorageTimeoutError);
    await vi.advanceTimersByTimeAsync(999);
    expect(gate.load.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(2);
    await failed;
    expect(gate.load.waiting).toBe(0);
  });
});
