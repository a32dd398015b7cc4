import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UploadUrlStore } from './upload-url.store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3c-uploads-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const upload = (url: string) => ({
  size: 10,
  metadata: {},
  creationTime: new Date().toISOString(),
  uploadUrl: url,
  parallelUploadUrls: null,
  urlStorageKey: '',
});

describe('the store of unfinished uploads', () => {
  it('when it is opened, then its file is 0600; an upload kept by fingerprint is found again and removed once done', async () => {
    const store = await UploadUrlStore.open(dir);
    expect((await stat(join(dir, 'uploads.json'))).mode & 0o777).toBe(0o600);
    const key = await store.addUpload('fp', upload('http://g/uploads/1'));
    expect((await store.findUploadsByFingerprint('fp')).map((u) => u.uploadUrl)).toEqual(['http://g/uploads/1']);
    void store.removeUpload(key);
    await store.settled();
    expect(JSON.parse(await readFile(join(dir, 'uploads.json'), 'utf8'))).toEqual({});
  });

  it('when the gateway refused the token, then nothing is removed: the upload resumes after the next login', async () => {
    const store = await UploadUrlStore.open(dir);
    const key = await store.addUpload('fp', upload('http://g/uploads/1'));
    store.keepAll = true;
    await store.removeUpload(key);
    await store.settled();
    expect(await store.findUploadsByFingerprint('fp')).toHaveLength(1);
  });
});
