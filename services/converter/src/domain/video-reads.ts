import type { ServedVideo } from './ports.js';
import type { VideoCopy } from './video-copy.js';

/** How much of the video a job read out of the store: bytes served by ranges, bytes copied, of how many. */
export interface ReadFigures {
  served: number;
  copied: number;
  of: number;
}

/**
 * How a job's runs read its video: a local copy made in the background, or, for a job whose runs seek (see
 * `seeksInSource`; a split by chapters aside, which cuts from the copy), the video served by byte ranges, read
 * out of the store as ffmpeg asks for it, with a copy made only if a served run fails on the file (see
 * JobRunner.fedThenWhole).
 */
export class VideoReads {
  private made: VideoCopy | undefined;
  private serving: ServedVideo | undefined;
  private sent = 0;

  /** Without `served`, the copy starts at once. */
  constructor(
    private readonly startCopy: () => VideoCopy,
    served: ServedVideo | undefined,
  ) {
    this.serving = served;
    if (!served) this.copy();
  }

  /** The video served by ranges, until `unserve`. */
  get served(): ServedVideo | undefined {
    return this.serving;
  }

  /** The local copy, started on the first call. */
  copy(): VideoCopy {
    this.made ??= this.startCopy();
    return this.made;
  }

  /** The copy if one was started. */
  get copied(): VideoCopy | undefined {
    return this.made;
  }

  /** Stops serving: the runs that follow read the copy. */
  async unserve(): Promise<void> {
    const served = this.serving;
    this.serving = undefined;
    if (served) {
      this.sent += served.bytesServed;
      await served.close();
    }
  }

  /** For the job's log line: how much of the video was read out of the store, and how. */
  readFigures(videoBytes: number): { read: ReadFigures } {
    return { read: { served: this.sent + (this.serving?.bytesServed ?? 0), copied: this.made?.file.size ?? 0, of: videoBytes } };
  }

  /** Stops serving and copying, and waits until neither holds anything open. */
  async stop(): Promise<void> {
    await this.unserve();
    await this.made?.stop();
  }
}
