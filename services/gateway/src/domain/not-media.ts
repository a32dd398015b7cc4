/**
 * An upload's first bytes showed no video or audio: the upload is refused (415) and nothing of it is kept.
 * Both ways of uploading (multipart and resumable) throw it from their storage; each route answers it in its
 * own protocol's form.
 */
export class NotMediaError extends Error {
  constructor(readonly reason: string) {
    super(`the file is ${reason}`);
    this.name = 'NotMediaError';
  }
}
