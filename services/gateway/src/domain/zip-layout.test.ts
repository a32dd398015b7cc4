import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type ZipData, type ZipEntry, ZipLayout, zipRange } from './zip-layout.js';

const MODIFIED = new Date('2024-05-06T07:08:10Z');

/** Entries with their data, served in odd-sized pieces. */
function source(contents: Buffer[], names = contents.map((_, i) => `part ${i}.mp3`)) {
  const entries: ZipEntry[] = contents.map((data, i) => ({ name: names[i]!, size: data.length, modified: MODIFIED }));
  const reads: { index: number; start: number; end: number }[] = [];
  const data: ZipData = async function* (index, start, end) {
    reads.push({ index, start, end });
    for (let at = start; at < end; at += 7) yield contents[index]!.subarray(at, Math.min(at + 7, end));
  };
  return { layout: new ZipLayout(entries), data, reads };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

interface ReadEntry {
  name: string;
  utf8: boolean;
  crc: number;
  size: number;
  offset: number;
  data: Buffer;
}

/** A check cheap enough for 70,000 entries (expect() is not). */
function same(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`${what}: ${String(actual)}, expected ${String(expected)}`);
}

/**
 * A strict reader of what the writer makes, from the end records through the central directory to each
 * local header (the way unzip and 7-Zip read), checking that every place that states a value states the same.
 */
function readZip(zip: Buffer): ReadEntry[] {
  const end = zip.length - 22;
  same(zip.readUInt32LE(end), 0x06054b50, 'end of central directory signature');
  let count = zip.readUInt16LE(end + 10);
  let centralSize = zip.readUInt32LE(end + 12);
  let centralOffset = zip.readUInt32LE(end + 16);
  if (zip.readUInt32LE(end - 20) === 0x07064b50) {
    const zip64End = Number(zip.readBigUInt64LE(end - 20 + 8));
    same(zip.readUInt32LE(zip64End), 0x06064b50, 'ZIP64 end record signature');
    count = Number(zip.readBigUInt64LE(zip64End + 32));
    centralSize = Number(zip.readBigUInt64LE(zip64End + 40));
    centralOffset = Number(zip.readBigUInt64LE(zip64End + 48));
    same(zip64End, centralOffset + centralSize, 'ZIP64 end record after the central directory');
  } else same(end, centralOffset + centralSize, 'end record after the central directory');
  const entries: ReadEntry[] = [];
  let at = centralOffset;
  for (let i = 0; i < count; i++) {
    same(zip.readUInt32LE(at), 0x02014b50, 'central directory record signature');
    const flags = zip.readUInt16LE(at + 8);
    const crc = zip.readUInt32LE(at + 16);
    let size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    let offset = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString(flags & 0x800 ? 'utf8' : 'latin1');
    for (let x = at + 46 + nameLength; x < at + 46 + nameLength + extraLength; ) {
      const id = zip.readUInt16LE(x);
      const length = zip.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let y = x + 4;
        if (size === 0xffffffff) {
          size = Number(zip.readBigUInt64LE(y));
          y += 16;
        }
        if (offset === 0xffffffff) offset = Number(zip.readBigUInt64LE(y));
      }
      x += 4 + length;
    }
    same(zip.readUInt32LE(offset), 0x04034b50, 'local header signature');
    same(zip.readUInt16LE(offset + 6), flags, 'local and central flags');
    const localName = zip.readUInt16LE(offset + 26);
    const dataAt = offset + 30 + localName + zip.readUInt16LE(offset + 28);
    const data = zip.subarray(dataAt, dataAt + size);
    same(zip.readUInt32LE(dataAt + size), 0x08074b50, 'data descriptor signature');
    same(zip.readUInt32LE(dataAt + size + 4), crc, 'data descriptor and central CRC');
    entries.push({ name, utf8: Boolean(flags & 0x800), crc, size, offset, data });
    at += 46 + nameLength + extraLength + zip.readUInt16LE(at + 32);
  }
  return entries;
}

describe('the ZIP writer', () => {
  it('when the whole ZIP is written, then it is as long as laid out, and each entry reads back with its name, bytes and CRC', async () => {
    const contents = [randomBytes(1000), Buffer.alloc(0), randomBytes(33)];
    const { layout, data } = source(contents, ['talk.mp3', 'empty.mp3', 'Ölçü 日本語.mp3']);
    const told: [number, number][] = [];
    const zip = await collect(zipRange(layout, data, 0, layout.size - 1, { crcs: [], onCrc: (i, crc) => told.push([i, crc]) }));
    expect(zip.length).toBe(layout.size);
    const entries = readZip(zip);
    expect(entries.map((e) => [e.name, e.utf8])).toEqual([
      ['talk.mp3', false],
      ['empty.mp3', false],
      ['Ölçü 日本語.mp3', true],
    ]);
    entries.forEach((entry, i) => {
      expect(entry.data.equals(contents[i]!)).toBe(true);
      expect(entry.crc).toBe(crc32(contents[i]!));
    });
    expect(told.sort()).toEqual(contents.map((c, i) => [i, crc32(c)]));
  });

  it('when any range is asked for, with the CRCs known or not, then its bytes are those of the whole ZIP', async () => {
    const contents = [randomBytes(300), randomBytes(1), Buffer.alloc(0), randomBytes(120)];
    const { layout, data } = source(contents);
    const whole = await collect(zipRange(layout, data, 0, layout.size - 1, { crcs: [] }));
    const known = contents.map((c) => crc32(c));
    for (let start = 0; start < layout.size; start += 3) {
      for (const end of [start, start + 1, start + 29, start + 97, layout.size - 1]) {
        if (end >= layout.size) continue;
        const cold = await collect(zipRange(layout, data, start, end, { crcs: [] }));
        expect(cold.equals(whole.subarray(start, end + 1)), `${start}-${end} without CRCs`).toBe(true);
        const warm = await collect(zipRange(layout, data, start, end, { crcs: [...known] }));
        expect(warm.equals(whole.subarray(start, end + 1)), `${start}-${end} with CRCs`).toBe(true);
      }
    }
  });

  it('when a range starts inside an entry with no CRC known, then that entry alone is read from its start, and only the range is sent', async () => {
    const contents = [randomBytes(500), randomBytes(500), randomBytes(500)];
    const { layout, data, reads } = source(contents);
    const start = layout.dataOf(1).offset + 200;
    const crcs: (number | undefined)[] = [crc32(contents[0]!), undefined, undefined];
    const tail = await collect(zipRange(layout, data, start, layout.size - 1, { crcs }));
    const whole = await collect(zipRange(layout, data, 0, layout.size - 1, { crcs: [] }));
    expect(tail.equals(whole.subarray(start))).toBe(true);
    expect(reads.slice(0, 2)).toEqual([
      { index: 1, start: 0, end: 500 },
      { index: 2, start: 0, end: 500 },
    ]);
    expect(crcs).toEqual(contents.map((c) => crc32(c)));
  });

  it('when a range ends inside an entry, then nothing past it is read, and no CRC is needed', async () => {
    const contents = [randomBytes(500), randomBytes(500)];
    const { layout, data, reads } = source(contents);
    const end = layout.dataOf(0).offset + 99;
    const head = await collect(zipRange(layout, data, 0, end, { crcs: [] }));
    expect(head.length).toBe(end + 1);
    expect(reads).toEqual([{ index: 0, start: 0, end: 100 }]);
  });

  it('when an entry brings fewer or more bytes than its size, then the ZIP fails instead of coming out wrong', async () => {
    const layout = new ZipLayout([{ name: 'a.mp3', size: 10, modified: MODIFIED }]);
    const short: ZipData = async function* () {
      yield Buffer.alloc(9);
    };
    const long: ZipData = async function* () {
      yield Buffer.alloc(11);
    };
    await expect(collect(zipRange(layout, short, 0, layout.size - 1, { crcs: [] }))).rejects.toThrow(/ended at 9 of 10/);
    await expect(collect(zipRange(layout, long, 0, layout.size - 1, { crcs: [] }))).rejects.toThrow(/longer than its 10 bytes/);
  });

  it('when an entry is 4 GiB or more, then its sizes, and the offsets past it, are written as ZIP64', () => {
    const big = 2 ** 32 + 5;
    const layout = new ZipLayout([
      { name: 'big.mp3', size: big, modified: MODIFIED },
      { name: 'after.mp3', size: 3, modified: MODIFIED },
    ]);
    const local = layout.localHeader(0).bytes;
    expect(local.readUInt16LE(4)).toBe(45);
    expect(local.readUInt32LE(18)).toBe(0xffffffff);
    expect(local.readUInt32LE(22)).toBe(0xffffffff);
    const zip64Local = 30 + 'big.mp3'.length + 9;
    expect(local.readUInt16LE(zip64Local)).toBe(0x0001);
    expect(Number(local.readBigUInt64LE(zip64Local + 4))).toBe(big);
    const descriptor = layout.descriptor(0, 0x12345678).bytes;
    expect(descriptor.length).toBe(24);
    expect(Number(descriptor.readBigUInt64LE(8))).toBe(big);
    expect(Number(descriptor.readBigUInt64LE(16))).toBe(big);
    const after = layout.centralRecord(1, 0).bytes;
    expect(after.readUInt32LE(42)).toBe(0xffffffff);
    expect(after.readUInt16LE(46 + 'after.mp3'.length + 9)).toBe(0x0001);
    expect(Number(after.readBigUInt64LE(46 + 'after.mp3'.length + 9 + 4))).toBe(layout.localHeader(1).offset);
    expect(layout.localHeader(1).offset).toBeGreaterThan(2 ** 32);
    // A small entry past 4 GiB needs ZIP64 for its offset alone; both its headers say so.
    expect(layout.localHeader(1).bytes.readUInt16LE(4)).toBe(45);
    expect(after.readUInt16LE(6)).toBe(45);
    expect(new ZipLayout([{ name: 'small.mp3', size: 3, modified: MODIFIED }]).localHeader(0).bytes.readUInt16LE(4)).toBe(20);
    const end = layout.end().bytes;
    expect(end.readUInt32LE(0)).toBe(0x06064b50);
    expect(Number(end.readBigUInt64LE(48))).toBe(layout.centralOffset);
    expect(end.readUInt32LE(end.length - 22 + 16)).toBe(0xffffffff);
  });

  it('when there are 65,535 entries or more, then the ZIP64 end records carry the count; below, the classic record does', async () => {
    const many = (n: number) => new ZipLayout(Array.from({ length: n }, (_, i) => ({ name: `${i}.mp3`, size: 0, modified: MODIFIED })));
    expect(many(65_534).end().bytes.length).toBe(22);
    const layout = many(70_000);
    const end = layout.end().bytes;
    expect(end.readUInt32LE(0)).toBe(0x06064b50);
    expect(Number(end.readBigUInt64LE(32))).toBe(70_000);
    expect(end.readUInt16LE(end.length - 22 + 10)).toBe(0xffff);
    const empty: ZipData = async function* () {};
    const entries = readZip(await collect(zipRange(layout, empty, 0, layout.size - 1, { crcs: [] })));
    expect(entries.length).toBe(70_000);
    expect(entries.at(-1)?.name).toBe('69999.mp3');
  }, 60_000);

  it('when dates are written, then they are UTC, clamped to what DOS dates hold, and the same on every run', () => {
    const at = (modified: Date) => {
      const header = new ZipLayout([{ name: 'a', size: 0, modified }]).localHeader(0).bytes;
      return { time: header.readUInt16LE(10), date: header.readUInt16LE(12), unix: header.readUInt32LE(30 + 1 + 5) };
    };
    expect(at(MODIFIED)).toEqual({ time: (7 << 11) | (8 << 5) | 5, date: (44 << 9) | (5 << 5) | 6, unix: MODIFIED.getTime() / 1000 });
    expect(at(new Date(0))).toEqual({ time: 0, date: (1 << 5) | 1, unix: 0 });
    expect(at(MODIFIED)).toEqual(at(new Date(MODIFIED)));
  });
});
