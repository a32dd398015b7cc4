import { describe, expect, it } from 'vitest';
import { intOpt, oneId, parseCommandArgs, parseSize } from './args.js';

describe('arguments', () => {
  it('when an option is unknown or lacks its value, then a usage error (exit 2)', () => {
    expect(() => parseCommandArgs(['--nope'], {})).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/nope/) }));
    expect(() => parseCommandArgs(['--gateway'], {})).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it('when common options are given, then every command reads them', () => {
    expect(parseCommandArgs(['-g', 'http://x:1', '--json', 'ID'], {})).toEqual({ values: { gateway: 'http://x:1', json: true }, positionals: ['ID'] });
  });

  it('when an id is given, then it must be one 24-hex id, lower-cased', () => {
    const id = 'ABCDEF0123456789ABCDEF01';
    expect(oneId(parseCommandArgs([id], {}))).toBe(id.toLowerCase());
    expect(() => oneId(parseCommandArgs([], {}))).toThrow(/missing ID/);
    expect(() => oneId(parseCommandArgs(['123'], {}))).toThrow(/24-character/);
    expect(() => oneId(parseCommandArgs([id, id], {}))).toThrow(/one ID only/);
  });

  it('when numbers and sizes are given, then whole numbers in bounds and k/m/g units', () => {
    const opts = { limit: { type: 'string' } } as const;
    expect(intOpt(parseCommandArgs(['--limit', '5'], opts), 'limit', 1, 100)).toBe(5);
    expect(() => intOpt(parseCommandArgs(['--limit', '0'], opts), 'limit', 1, 100)).toThrow(/1 to 100/);
    expect(() => intOpt(parseCommandArgs(['--limit', '2.5'], opts), 'limit', 1, 100)).toThrow(/1 to 100/);
    expect([parseSize('65536'), parseSize('512k'), parseSize('5m'), parseSize('1GiB'), parseSize('0'), parseSize('5x')]).toEqual([
      65536,
      512 * 1024,
      5 * 1024 ** 2,
      1024 ** 3,
      undefined,
      undefined,
    ]);
  });
});
