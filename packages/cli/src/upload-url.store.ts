import { open } from 'node:fs/promises';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import type { UrlStorage } from 'tus-js-client';

/** tus-js-client's Node file storage: exported by its Node build, absent from its type declarations. */
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => UrlStorage };

type PreviousUpload = Awaited<ReturnType<UrlStorage['findAllUploads']>>[number];

/**
 * The URLs of unfinished uploads, by the file's fingerprint, in `<config dir>/uploads.json` (tus-js-client's
 * file storage, locked while written), so that running the same upload again after Ctrl-C or a lost
 * connection goes on from the server's offset.
 *
 * Two things on top: writes are tracked, so that an interrupted mp3c waits for the one under way before it
 * exits; and an upload the gateway refused for the token (401/403: expired, not "no such upload") is not
 * forgotten, so that it resumes after `mp3c login`.
 */
export class UploadUrlStore implements UrlStorage {
  /** Set when the gateway refused the token: tus-js-client would otherwise drop the URL as unknown. */
  keepAll = false;
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(private readonly inner: UrlStorage) {}

  /** The store in `dir` (which must exist, 0700), its file created 0600. */
  static async open(dir: string): Promise<UploadUrlStore> {
    const path = join(dir, 'uploads.json');
    await (await open(path, 'a', 0o600)).close();
    return new UploadUrlStore(new FileUrlStorage(path));
  }

  findAllUploads(): Promise<PreviousUpload[]> {
    return this.inner.findAllUploads();
  }

  findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    return this.inner.findUploadsByFingerprint(fingerprint);
  }

  removeUpload(urlStorageKey: string): Promise<void> {
    if (this.keepAll) return Promise.resolve();
    return this.track(this.inner.removeUpload(urlStorageKey));
  }

  addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    return this.track(this.inner.addUpload(fingerprint, upload));
  }

  /** Resolves once every write started so far has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    promise.then(
      () => this.pending.delete(promise),
      () => this.pending.delete(promise),
    );
    return promise;
  }
}
