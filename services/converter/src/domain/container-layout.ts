/**
 * Whether ffmpeg can read a video from its first byte on, as it streams out of storage, rather than from a
 * whole local copy. Decided from the top-level boxes of an MP4/MOV (ISO BMFF) file as its bytes go by: when
 * the index (`moov`) comes before the media (`mdat`), as in files made for the web ("fast start"), every
 * sample can be read in file order and the conversion can start as soon as the index is in. An index at the
 * end (what cameras and ffmpeg write by default) is needed before the first sample, so the whole file must be
 * there before ffmpeg starts; ffprobe, which needs only the index, can still read it as it streams. Other
 * containers are copied first: their length, which the limits and the truncation check rely on, is not
 * always in their head.
 */
export type Layout =
  /** Readable in file order; `indexEnd` is where the index ends. */
  | { kind: 'index-first'; indexEnd: number }
  /** An MP4/MOV whose index follows its media. */
  | { kind: 'index-last' }
  | { kind: 'copy-first' };

const COPY_FIRST: Layout = { kind: 'copy-first' };
const INDEX_LAST: Layout = { kind: 'index-last' };
/** A file whose index is not found this far in is copied first (a huge `free` box, say). */
const MAX_SCAN_BYTES = 64 * 1024 * 1024;
const FOURCC = /^[\x20-\x7e]{4}$/;

/** Feeds on a file's bytes in order; says which layout it has as soon as its head tells. */
export class ContainerLayout {
  private decided: Layout | undefined;
  /** Bytes seen so far. */
  private seen = 0;
  /** Where the next top-level box starts, and what of its header has been seen. */
  private boxAt = 0;
  private header: number[] = [];

  /** The layout once decided (then this chunk and later ones are not looked at), else undefined. */
  push(chunk: Uint8Array): Layout | undefined {
    if (this.decided) return this.decided;
    const chunkStart = this.seen;
    this.seen += chunk.length;
    while (!this.decided) {
      const index = this.boxAt + this.header.length - chunkStart;
      if (index >= chunk.length) break;
      const wanted = this.header.length >= 8 && this.sizeField() === 1 ? 16 : 8;
      for (let i = index; i < chunk.length && this.header.length < wanted; i++) this.header.push(chunk[i]!);
      if (this.header.length < wanted) break;
      if (wanted === 8 && this.sizeField() === 1) continue; // a 64-bit size follows
      this.decided = this.nextBox();
    }
    return this.decided;
  }

  /** The file ended: whatever was not decided by then is copied first. */
  end(): Layout {
    this.decided ??= COPY_FIRST;
    return this.decided;
  }

  private sizeField(): number {
    const h = this.header;
    return ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
  }

  /** Reads the box header gathered; a layout when it settles the question, else moves on to the next box. */
  private nextBox(): Layout | undefined {
    const type = String.fromCharCode(...this.header.slice(4, 8));
    let size = this.sizeField();
    if (size === 1) size = Number(Buffer.from(this.header.slice(8, 16)).readBigUInt64BE());
    const first = this.boxAt === 0;
    if (!FOURCC.test(type) || (first && type !== 'ftyp')) return COPY_FIRST;
    // Size 0 runs to the end of the file; anything under a header is not a box.
    if (size < this.header.length) return COPY_FIRST;
    if (type === 'moov') return { kind: 'index-first', indexEnd: this.boxAt + size };
    if (type === 'mdat') return INDEX_LAST;
    if (type === 'moof') return COPY_FIRST;
    this.boxAt += size;
    this.header = [];
    return this.boxAt > MAX_SCAN_BYTES ? COPY_FIRST : undefined;
  }
}
