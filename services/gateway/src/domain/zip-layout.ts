import { crc32 } from 'node:zlib';

/**
 * A ZIP of stored (not deflated: MP3 does not compress) entries whose every byte is known from the entries'
 * names, sizes and dates alone, except the CRC-32s, which only the data descriptors and the central
 * directory carry. So the ZIP's length is known before a byte of data is read, any range of it can be
 * produced again byte for byte (a cut download resumes with Range), and it can be sent as it is written:
 * each entry's CRC is computed while its data goes out.
 *
 * Every entry has general purpose bit 3 (sizes and CRC in a data descriptor after the data): its local
 * header carries CRC 0, and the sizes, which are known (readers that stream a stored entry need them).
 * ZIP64 is used where the classic fields cannot hold a value: an entry of 4 GiB or more (a ZIP64 extra field
 * in both headers and 8-byte sizes in its data descriptor), a local header past 4 GiB (its offset in the
 * central directory's ZIP64 extra field), and 65,535 entries or more or a central directory past 4 GiB (the
 * ZIP64 end records). Names are UTF-8, flagged (bit 11) when not plain ASCII.
 */

export interface ZipEntry {
  /** The name in the archive: already safe and unique (see zip-names). */
  name: string;
  size: number;
  modified: Date;
}

const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
const BIT_DATA_DESCRIPTOR = 1 << 3;
const BIT_UTF8 = 1 << 11;
/** Version 2.0 (data descriptors), 4.5 (ZIP64). */
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
/** Made by Unix (3), so that the external attributes are a file mode: a regular file, rw-r--r--. */
const MADE_BY = (3 << 8) | VERSION_ZIP64;
const FILE_MODE = (0o100644 << 16) >>> 0;

interface Placed {
  name: Buffer;
  flags: number;
  size: number;
  dosTime: number;
  dosDate: number;
  unixTime: number;
  /** Sizes that need ZIP64 (4 GiB or more). */
  big: boolean;
  /** Where the local header starts. */
  offset: number;
  headerLength: number;
  dataOffset: number;
  descriptorLength: number;
  /** Where its central directory record starts. */
  centralOffset: number;
  centralLength: number;
}

function dosDateTime(date: Date): { dosTime: number; dosDate: number } {
  const earliest = Date.UTC(1980, 0, 1);
  const latest = Date.UTC(2107, 11, 31, 23, 59, 58);
  const d = new Date(Math.min(Math.max(date.getTime(), earliest), latest));
  return {
    dosTime: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    dosDate: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** A little-endian writer over a buffer of a known length. */
class Fields {
  readonly buffer: Buffer;
  private at = 0;
  constructor(length: number) {
    // From the shared pool (a central directory of 70,000 entries is 210,000 small buffers), zeroed.
    this.buffer = Buffer.allocUnsafe(length).fill(0);
  }
  u8(n: number): this {
    this.at = this.buffer.writeUInt8(n, this.at);
    return this;
  }
  u16(n: number): this {
    this.at = this.buffer.writeUInt16LE(n, this.at);
    return this;
  }
  u32(n: number): this {
    this.at = this.buffer.writeUInt32LE(n >>> 0, this.at);
    return this;
  }
  u64(n: number): this {
    this.at = this.buffer.writeBigUInt64LE(BigInt(n), this.at);
    return this;
  }
  bytes(b: Buffer): this {
    this.at += b.copy(this.buffer, this.at);
    return this;
  }
}

/** Extended timestamp (0x5455): the modification time in Unix seconds, which unzip and 7-Zip restore. */
const TIMESTAMP_EXTRA = 9;
const timestampExtra = (unixTime: number): Buffer => new Fields(TIMESTAMP_EXTRA).u16(0x5455).u16(5).u8(1).u32(unixTime).buffer;
/** ZIP64 extended information (0x0001) in a local header: both sizes. */
const ZIP64_LOCAL_EXTRA = 20;
const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const ZIP64_END = 56;
const ZIP64_LOCATOR = 20;
const END = 22;

const zip64CentralFields = (p: Placed): number => (p.big ? 2 : 0) + (p.offset >= MAX32 ? 1 : 0);

export class ZipLayout {
  private readonly placed: Placed[];
  readonly centralOffset: number;
  readonly centralSize: number;
  /** The whole ZIP, bytes. */
  readonly size: number;
  private readonly zip64End: boolean;

  constructor(entries: readonly ZipEntry[]) {
    let at = 0;
    this.placed = entries.map((entry) => {
      if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new RangeError(`bad size for ${entry.name}: ${entry.size}`);
      const name = Buffer.from(entry.name, 'utf8');
      if (name.length > MAX16) throw new RangeError('name too long');
      const big = entry.size >= MAX32;
      const headerLength = LOCAL_HEADER + name.length + TIMESTAMP_EXTRA + (big ? ZIP64_LOCAL_EXTRA : 0);
      const descriptorLength = big ? 24 : 16;
      const placed: Placed = {
        name,
        flags: BIT_DATA_DESCRIPTOR | (/^[\x20-\x7e]*$/.test(entry.name) ? 0 : BIT_UTF8),
        size: entry.size,
        ...dosDateTime(entry.modified),
        unixTime: Math.min(Math.max(Math.floor(entry.modified.getTime() / 1000), 0), MAX32),
        big,
        offset: at,
        headerLength,
        dataOffset: at + headerLength,
        descriptorLength,
        centralOffset: 0,
        centralLength: 0,
      };
      at += headerLength + entry.size + descriptorLength;
      return placed;
    });
    this.centralOffset = at;
    for (const p of this.placed) {
      const zip64 = zip64CentralFields(p);
      p.centralOffset = at;
      p.centralLength = CENTRAL_HEADER + p.name.length + TIMESTAMP_EXTRA + (zip64 ? 4 + 8 * zip64 : 0);
      at += p.centralLength;
    }
    this.centralSize = at - this.centralOffset;
    this.zip64End = this.placed.length >= MAX16 || this.centralSize >= MAX32 || this.centralOffset >= MAX32;
    this.size = at + (this.zip64End ? ZIP64_END + ZIP64_LOCATOR : 0) + END;
  }

  get count(): number {
    return this.placed.length;
  }

  /** Entry `i`'s data: where it starts in the ZIP, and its length. */
  dataOf(i: number): { offset: number; size: number } {
    const p = this.at(i);
    return { offset: p.dataOffset, size: p.size };
  }

  private at(i: number): Placed {
    const p = this.placed[i];
    if (!p) throw new RangeError(`no entry ${i}`);
    return p;
  }

  private versionNeeded(p: Placed): number {
    return p.big || p.offset >= MAX32 ? VERSION_ZIP64 : VERSION_DEFAULT;
  }

  /** The local header of entry `i`, and where it starts. */
  localHeader(i: number): { offset: number; bytes: Buffer } {
    const p = this.at(i);
    const f = new Fields(p.headerLength)
      .u32(0x04034b50)
      .u16(this.versionNeeded(p))
      .u16(p.flags)
      .u16(0)
      .u16(p.dosTime)
      .u16(p.dosDate)
      .u32(0)
      .u32(p.big ? MAX32 : p.size)
      .u32(p.big ? MAX32 : p.size)
      .u16(p.name.length)
      .u16(p.headerLength - LOCAL_HEADER - p.name.length)
      .bytes(p.name)
      .bytes(timestampExtra(p.unixTime));
    if (p.big) f.u16(0x0001).u16(16).u64(p.size).u64(p.size);
    return { offset: p.offset, bytes: f.buffer };
  }

  /** Where entry `i`'s data descriptor starts, and its length. */
  descriptorSpan(i: number): { offset: number; length: number } {
    const p = this.at(i);
    return { offset: p.dataOffset + p.size, length: p.descriptorLength };
  }

  /** Where entry `i`'s central directory record starts, and its length. */
  centralSpan(i: number): { offset: number; length: number } {
    const p = this.at(i);
    return { offset: p.centralOffset, length: p.centralLength };
  }

  /** The data descriptor after entry `i`'s data, and where it starts. */
  descriptor(i: number, crc: number): { offset: number; bytes: Buffer } {
    const p = this.at(i);
    const f = new Fields(p.descriptorLength).u32(0x08074b50).u32(crc);
    if (p.big) f.u64(p.size).u64(p.size);
    else f.u32(p.size).u32(p.size);
    return { offset: p.dataOffset + p.size, bytes: f.buffer };
  }

  /** Entry `i`'s record in the central directory, and where it starts. */
  centralRecord(i: number, crc: number): { offset: number; bytes: Buffer } {
    const p = this.at(i);
    const zip64 = zip64CentralFields(p);
    const farOffset = p.offset >= MAX32;
    const f = new Fields(p.centralLength)
      .u32(0x02014b50)
      .u16(MADE_BY)
      .u16(this.versionNeeded(p))
      .u16(p.flags)
      .u16(0)
      .u16(p.dosTime)
      .u16(p.dosDate)
      .u32(crc)
      .u32(p.big ? MAX32 : p.size)
      .u32(p.big ? MAX32 : p.size)
      .u16(p.name.length)
      .u16(p.centralLength - CENTRAL_HEADER - p.name.length)
      .u16(0)
      .u16(0)
      .u16(0)
      .u32(FILE_MODE)
      .u32(farOffset ? MAX32 : p.offset)
      .bytes(p.name)
      .bytes(timestampExtra(p.unixTime));
    if (zip64) {
      f.u16(0x0001).u16(8 * zip64);
      if (p.big) f.u64(p.size).u64(p.size);
      if (farOffset) f.u64(p.offset);
    }
    return { offset: p.centralOffset, bytes: f.buffer };
  }

  /** The end records (ZIP64's where needed, then the classic one), and where they start. */
  end(): { offset: number; bytes: Buffer } {
    const offset = this.centralOffset + this.centralSize;
    const count = this.placed.length;
    const f = new Fields(this.size - offset);
    if (this.zip64End) {
      f.u32(0x06064b50)
        .u64(ZIP64_END - 12)
        .u16(MADE_BY)
        .u16(VERSION_ZIP64)
        .u32(0)
        .u32(0)
        .u64(count)
        .u64(count)
        .u64(this.centralSize)
        .u64(this.centralOffset);
      f.u32(0x07064b50).u32(0).u64(offset).u32(1);
    }
    f.u32(0x06054b50)
      .u16(0)
      .u16(0)
      .u16(Math.min(count, MAX16))
      .u16(Math.min(count, MAX16))
      .u32(Math.min(this.centralSize, MAX32))
      .u32(Math.min(this.centralOffset, MAX32))
      .u16(0);
    return { offset, bytes: f.buffer };
  }
}

/** Where entry data comes from: bytes `start` (inclusive) to `end` (exclusive) of entry `index`. */
export type ZipData = (index: number, start: number, end: number) => AsyncIterable<Uint8Array>;

export interface ZipRangeOptions {
  /** Entries' CRC-32s known beforehand (undefined where not); filled in as they are computed. */
  crcs: (number | undefined)[];
  /** Called with each CRC-32 computed here, to be remembered for later ranges. */
  onCrc?: (index: number, crc: number) => void;
}

/**
 * Bytes `start` to `end` (both inclusive) of the ZIP. An entry's data read in full on the way has its CRC
 * computed as it passes; a CRC needed but not known (a range that starts inside an entry or past it) is
 * computed by reading that entry whole, of which only the bytes in the range are sent. Data that comes out
 * of `data` longer or shorter than its entry's size fails the stream.
 */
export async function* zipRange(layout: ZipLayout, data: ZipData, start: number, end: number, options: ZipRangeOptions): AsyncGenerator<Buffer> {
  // Headers, descriptors and directory records are tens of bytes each: sent together, not one write each.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of pieces(layout, data, start, end, options)) {
    if (piece.length >= COALESCE_BYTES) {
      if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      yield piece;
      continue;
    }
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes >= COALESCE_BYTES) {
      yield Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** Pieces smaller than this are gathered into one of at least this size before they go out. */
const COALESCE_BYTES = 64 * 1024;

async function* pieces(layout: ZipLayout, data: ZipData, start: number, end: number, { crcs, onCrc }: ZipRangeOptions): AsyncGenerator<Buffer> {
  const last = end + 1;
  const slice = ({ offset, bytes }: { offset: number; bytes: Buffer }): Buffer | undefined => {
    const from = Math.max(start - offset, 0);
    const to = Math.min(last - offset, bytes.length);
    return from < to ? bytes.subarray(from, to) : undefined;
  };

  /** Entry `i`'s data from `from` to `to`, checked for its length, with its CRC when read from its start to its end. */
  async function* read(i: number, from: number, to: number, emitFrom: number): AsyncGenerator<Buffer> {
    const { size } = layout.dataOf(i);
    const whole = from === 0 && to === size;
    let crc = 0;
    let at = from;
    for await (const chunk of data(i, from, to)) {
      const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (at + buffer.length > to) throw new Error(`entry ${i} is longer than its ${size} bytes`);
      if (whole) crc = crc32(buffer, crc);
      const skip = Math.max(emitFrom - at, 0);
      if (skip < buffer.length) yield buffer.subarray(skip);
      at += buffer.length;
    }
    if (at !== to) throw new Error(`entry ${i} ended at ${at} of ${to} bytes`);
    if (whole && crcs[i] === undefined) {
      crcs[i] = crc;
      onCrc?.(i, crc);
    }
  }

  const crcOf = async (i: number): Promise<number> => {
    if (crcs[i] === undefined) for await (const _ of read(i, 0, layout.dataOf(i).size, Number.POSITIVE_INFINITY));
    return crcs[i]!;
  };

  const overlaps = ({ offset, length }: { offset: number; length: number }) => offset < last && offset + length > start;

  for (let i = 0; i < layout.count && start < layout.centralOffset; i++) {
    const header = slice(layout.localHeader(i));
    if (header) yield header;
    const { offset, size } = layout.dataOf(i);
    if (offset >= last) return;
    const from = Math.max(start - offset, 0);
    const to = Math.min(last - offset, size);
    if (from < to) {
      // The CRC is wanted when the range goes on past this data; reading from the entry's start gives it.
      const wanted = crcs[i] === undefined && to === size;
      if (wanted) yield* read(i, 0, size, from);
      else yield* read(i, from, to, from);
    }
    if (overlaps(layout.descriptorSpan(i))) yield slice(layout.descriptor(i, await crcOf(i)))!;
  }
  for (let i = 0; i < layout.count; i++) {
    const span = layout.centralSpan(i);
    if (span.offset >= last) return;
    if (overlaps(span)) yield slice(layout.centralRecord(i, await crcOf(i)))!;
  }
  const tail = slice(layout.end());
  if (tail) yield tail;
}
