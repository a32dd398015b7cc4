import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ZipData, type ZipEntry, ZipLayout, zipRange } from '../src/domain/zip-layout.js';
import { uniqueZipNames } from '../src/domain/zip-names.js';

/**
 * The gateway's ZIPs as the tools people open them with read them: Info-ZIP's `unzip -t`, Python's
 * `zipfile` and, where installed, 7-Zip, including ZIP64 past 65,535 entries and past 4 GiB (a sparse file:
 * the big entry's zeros are skipped on disk, read back as zeros).
 */
const run = promisify(execFile);
const sevenZip = ['7zz', '7z', '7za'].find((tool) => ['/usr/bin', '/usr/local/bin', '/bin'].some((dir) => existsSync(join(dir, tool))));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zip-format-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ZEROS = Buffer.alloc(1024 * 1024);

/** Writes the whole ZIP to `path`; chunks of zeros are left as holes. */
async function writeZip(path: string, entries: ZipEntry[], data: ZipData): Promise<ZipLayout> {
  const layout = new ZipLayout(entries);
  const file = await open(path, 'w');
  try {
    let at = 0;
    for await (const chunk of zipRange(layout, data, 0, layout.size - 1, { crcs: [] })) {
      if (!(chunk.length === ZEROS.length && chunk.equals(ZEROS))) await file.write(chunk, 0, chunk.length, at);
      at += chunk.length;
    }
    await file.truncate(at);
  } finally {
    await file.close();
  }
  return layout;
}

/** Every reader's verdict on the ZIP: each must read it whole and find every CRC right. */
async function checkWithEveryReader(path: string): Promise<void> {
  const unzip = await run('unzip', ['-tqq', path], { maxBuffer: 1 << 26 }).catch((err: { stdout: string; stderr: string }) => err);
  expect(`${unzip.stdout}${unzip.stderr}`.trim(), 'unzip -t').toBe('');
  const python = await run('python3', ['-m', 'zipfile', '-t', path], { maxBuffer: 1 << 26 });
  expect(python.stdout).toMatch(/Done testing/);
  if (sevenZip) {
    const seven = await run(sevenZip, ['t', path], { maxBuffer: 1 << 26 });
    expect(seven.stdout).toMatch(/Everything is Ok/);
  }
}

const fromBuffers = (contents: Buffer[]): ZipData =>
  async function* (i, start, end) {
    yield contents[i]!.subarray(start, end);
  };

describe('ZIPs as other programs read them', () => {
  it('when entries have hostile, foreign and clashing names, then every reader tests it clean and extracts them all inside the folder', async () => {
    const wanted = [
      '../../escape.mp3',
      '/abs/olute.mp3',
      'C:\\win\\path.mp3',
      'Ölçü 日本語 🎵.mp3',
      'talk.mp3',
      'TALK.mp3',
      'CON.mp3',
      'a\u0001b.mp3',
      '..',
      'empty.mp3',
    ];
    const names = uniqueZipNames(wanted);
    const contents = names.map((name) => (name === 'empty.mp3' ? Buffer.alloc(0) : randomBytes(5000 + Math.floor(Math.random() * 5000))));
    const path = join(dir, 'names.zip');
    await writeZip(
      path,
      names.map((name, i) => ({ name, size: contents[i]!.length, modified: new Date('2025-01-02T03:04:06Z') })),
      fromBuffers(contents),
    );
    await checkWithEveryReader(path);

    const listed = await run('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', path]);
    expect(listed.stdout.trimEnd().split('\n')).toEqual(names);
    const into = join(dir, 'extracted');
    await run('unzip', ['-qq', path, '-d', into]);
    expect((await readdir(into)).sort()).toEqual([...names].sort());
    expect((await readdir(dir)).sort()).toEqual(['extracted', 'names.zip']);
    for (const [i, name] of names.entries()) expect((await readFile(join(into, name))).equals(contents[i]!), name).toBe(true);
    // The dates are the ones given, in UTC, whatever the server's zone.
    const dates = await run('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).infolist()[0].date_time)', path]);
    expect(dates.stdout.trim()).toBe('(2025, 1, 2, 3, 4, 6)');
  });

  it('when there are 70,000 entries, then the ZIP64 end records make every reader find them all', async () => {
    const path = join(dir, 'many.zip');
    const entries = Array.from({ length: 70_000 }, (_, i) => ({ name: `${i}.mp3`, size: i % 7, modified: new Date() }));
    await writeZip(path, entries, async function* (i) {
      yield Buffer.alloc(i % 7, i % 251);
    });
    await checkWithEveryReader(path);
    const count = await run('python3', ['-c', 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))', path]);
    expect(count.stdout.trim()).toBe('70000');
    await rm(path);
  }, 180_000);

  it('when an entry is past 4 GiB and another lies beyond it, then every reader tests it clean with their CRCs', async () => {
    const path = join(dir, 'big.zip');
    const big = 2 ** 32 + 1024 ** 2;
    const before = randomBytes(70_000);
    const after = randomBytes(90_000);
    const layout = await writeZip(
      path,
      [
        { name: 'before.mp3', size: before.length, modified: new Date() },
        { name: 'big.mp3', size: big, modified: new Date() },
        { name: 'after.mp3', size: after.length, modified: new Date() },
      ],
      async function* (i, start, end) {
        if (i !== 1) return yield (i === 0 ? before : after).subarray(start, end);
        for (let at = start; at < end; at += ZEROS.length) yield ZEROS.subarray(0, Math.min(ZEROS.length, end - at));
      },
    );
    expect(layout.size).toBeGreaterThan(2 ** 32);
    await checkWithEveryReader(path);
    const tail = await run('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("after.mp3").hex())', path], { maxBuffer: 1 << 20 });
    expect(tail.stdout.trim()).toBe(after.toString('hex'));
    await rm(path);
  }, 300_000);
});
