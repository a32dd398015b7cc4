import { describe, expect, it } from 'vitest';
import { ContainerLayout, type Layout } from './container-layout.js';

/** A top-level box: 32-bit size, type, body (of `bodyBytes` zeros); `large` writes the 64-bit size form. */
function box(type: string, bodyBytes: number, large = false): Buffer {
  const head = Buffer.alloc(large ? 16 : 8);
  if (large) {
    head.writeUInt32BE(1, 0);
    head.writeBigUInt64BE(BigInt(16 + bodyBytes), 8);
  } else head.writeUInt32BE(8 + bodyBytes, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, Buffer.alloc(bodyBytes)]);
}

/** The layout of `file` fed in pieces of `piece` bytes, then its end. */
function layoutOf(file: Buffer, piece = file.length): Layout {
  const layout = new ContainerLayout();
  for (let at = 0; at < file.length; at += piece) {
    const decided = layout.push(file.subarray(at, at + piece));
    if (decided) return decided;
  }
  return layout.end();
}

describe('ContainerLayout', () => {
  it('when the index comes before the media, then the file streams and the probe waits for the index only', () => {
    const file = Buffer.concat([box('ftyp', 24), box('free', 100), box('moov', 5000), box('mdat', 20000)]);
    expect(layoutOf(file)).toEqual({ kind: 'index-first', indexEnd: 32 + 108 + 5008 });
  });

  it('when the bytes arrive one at a time, then the boxes are read across the pieces alike', () => {
    const file = Buffer.concat([box('ftyp', 24), box('wide', 0), box('moov', 300, true), box('mdat', 2000)]);
    expect(layoutOf(file, 1)).toEqual({ kind: 'index-first', indexEnd: 32 + 8 + 316 });
    expect(layoutOf(file, 7)).toEqual({ kind: 'index-first', indexEnd: 32 + 8 + 316 });
  });

  it('when the media comes first and the index at the end, then it is an MP4 whose index comes last', () => {
    expect(layoutOf(Buffer.concat([box('ftyp', 24), box('mdat', 20000), box('moov', 500)]))).toEqual({ kind: 'index-last' });
    expect(layoutOf(Buffer.concat([box('ftyp', 24), box('mdat', 20000, true), box('moov', 500)]), 3)).toEqual({ kind: 'index-last' });
  });

  it('when the file is another container, or no box structure at all, then it is copied first', () => {
    expect(layoutOf(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x93, 0x42, 0x82, 0x88, ...Buffer.from('matroska')]))).toEqual({ kind: 'copy-first' });
    expect(layoutOf(Buffer.concat([box('moov', 100), box('mdat', 100)]))).toEqual({ kind: 'copy-first' });
    expect(layoutOf(Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt '))).toEqual({ kind: 'copy-first' });
  });

  it('when a box is malformed (a size smaller than its header, running to the end, a binary type), then the file is copied first', () => {
    const tiny = Buffer.concat([box('ftyp', 24), Buffer.from([0, 0, 0, 4]), Buffer.from('free')]);
    expect(layoutOf(tiny)).toEqual({ kind: 'copy-first' });
    const toEnd = Buffer.concat([box('ftyp', 24), Buffer.from([0, 0, 0, 0]), Buffer.from('free'), Buffer.alloc(100)]);
    expect(layoutOf(toEnd)).toEqual({ kind: 'copy-first' });
    const binary = Buffer.concat([box('ftyp', 24), Buffer.from([0, 0, 0, 16, 0, 1, 2, 3]), Buffer.alloc(8)]);
    expect(layoutOf(binary)).toEqual({ kind: 'copy-first' });
  });

  it('when the file ends before its index, or its index lies too far in, then it is copied first', () => {
    expect(layoutOf(Buffer.concat([box('ftyp', 24), box('free', 10)]))).toEqual({ kind: 'copy-first' });
    const far = Buffer.concat([box('ftyp', 24), box('free', 0, true)]);
    far.writeBigUInt64BE(BigInt(65 * 1024 * 1024), 32 + 8);
    expect(layoutOf(Buffer.concat([far, box('moov', 10)]))).toEqual({ kind: 'copy-first' });
  });
});
