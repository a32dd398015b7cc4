import { ContainerLayout, type Layout } from './container-layout.js';
import { GrowingFile } from './growing-file.js';

/**
 * The job's video copied to a local file in the background. The copy runs ahead while the probe and the
 * encoder follow it: `layout` tells, from the file's head, whether it can be read before it is whole.
 */
export class VideoCopy {
  readonly file: GrowingFile;
  /** Known from the file's head, or at the latest when the copy ends. */
  readonly layout: Promise<Layout>;
  /** Settles with the copy: rejects with its failure. */
  readonly whole: Promise<void>;
  private readonly stopper = new AbortController();
  private wholeAt: number | undefined;

  /**
   * `copy` writes the file at `path` under the signal it is given, telling each piece once on disk. It stops
   * with the job's `signal` or with `stop`.
   */
  constructor(path: string, signal: AbortSignal, copy: (signal: AbortSignal, onData: (piece: Uint8Array) => void) => Promise<void>) {
    this.file = new GrowingFile(path);
    const scanner = new ContainerLayout();
    let decide: (layout: Layout) => void = () => undefined;
    this.layout = new Promise((resolve) => {
      decide = resolve;
    });
    const onData = (piece: Uint8Array) => {
      this.file.grew(piece.length);
      const layout = scanner.push(piece);
      if (layout) decide(layout);
    };
    this.whole = copy(AbortSignal.any([signal, this.stopper.signal]), onData).then(
      () => {
        this.wholeAt = performance.now();
        this.file.complete();
        decide(scanner.end());
      },
      (err: unknown) => {
        this.file.fail(err);
        decide(scanner.end());
        throw err;
      },
    );
    // Awaited by whoever needs the whole file; a failure nobody waited for is the job's failure elsewhere.
    this.whole.catch(() => undefined);
  }

  /** When the copy was whole (performance.now()), undefined before. */
  get completedAt(): number | undefined {
    return this.wholeAt;
  }

  /** Stops the copy if it still runs, and waits until it has let go of the file. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.whole.catch(() => undefined);
  }
}
