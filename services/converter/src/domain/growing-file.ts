import type { FollowedFile } from './ports.js';

/**
 * How far a local file being written is, for readers that follow it: the copy of the video tells it each
 * piece on disk, the feeders of ffprobe and ffmpeg wait on it. Its end is told once, as complete or failed.
 */
export class GrowingFile implements FollowedFile {
  private written = 0;
  private ended: { failure?: unknown } | undefined;
  private waiters = new Set<() => void>();

  constructor(readonly path: string) {}

  /** Bytes on disk so far. */
  get size(): number {
    return this.written;
  }

  grew(bytes: number): void {
    this.written += bytes;
    this.wake();
  }

  complete(): void {
    this.ended ??= {};
    this.wake();
  }

  fail(failure: unknown): void {
    this.ended ??= { failure };
    this.wake();
  }

  available(offset: number): Promise<number> {
    return this.until(() => this.written > offset);
  }

  private async until(enough: () => boolean): Promise<number> {
    while (!enough() && !this.ended) await new Promise<void>((resolve) => this.waiters.add(resolve));
    if (this.ended && 'failure' in this.ended) throw this.ended.failure;
    return this.written;
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}
