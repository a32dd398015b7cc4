import type { Logger } from '@mp3converter/shared/logger';
import type { UploadService } from '../domain/upload.service.js';
import { type GridFsTusStore, contentTypeOf } from './gridfs-tus.store.js';

/**
 * The end of a resumable upload: its job recorded once all bytes are in, and a periodic sweep that removes
 * abandoned uploads (chunks and documents), and finishes any upload whose end was cut short (the store
 * failing right after the last byte: its files document, then its job), so that nothing is orphaned and
 * nothing lost.
 */
export class ResumableUploadCompletion {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: GridFsTusStore,
    private readonly uploads: UploadService,
    private readonly logger: Logger,
  ) {}

  async finish(username: string, videoFid: string): Promise<void> {
    const doc = await this.store.find(videoFid);
    if (!doc?.completed) throw new Error(`upload ${videoFid} is not complete`);
    const video = { videoFid, filename: doc.filename, size: doc.size, contentType: contentTypeOf(doc) };
    // The upload's share goes back under the owner's lock, with the job recorded.
    await this.uploads.record(video, username, doc.options, () => this.store.markRecorded(doc));
  }

  /** One round: expired uploads removed, missed recordings made. */
  async sweep(now = new Date()): Promise<{ expired: number; recorded: number }> {
    const expired = await this.store.deleteExpired(now);
    // A minute's grace: what a PATCH is finishing right now is its own business.
    const settled = new Date(now.getTime() - 60_000);
    await this.store.finishStragglers(settled);
    let recorded = 0;
    for (const doc of await this.store.unrecorded(settled)) {
      const videoFid = doc._id.toHexString();
      await this.finish(doc.owner, videoFid).then(
        () => recorded++,
        (err: unknown) => this.logger.warn({ err, videoFid }, 'job of a finished upload not recorded yet'),
      );
    }
    if (expired > 0) this.logger.info({ expired }, 'abandoned resumable uploads removed');
    return { expired, recorded };
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => {
      this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'resumable upload sweep failed'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
