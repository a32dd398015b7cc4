import { randomBytes } from 'node:crypto';
import { signatureOf } from '@mp3converter/shared/links';
import { ObjectId } from '@mp3converter/shared/storage';
import { TEST_LINK_SECRET, storeGridFsFile } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, signIn, startStack } from './harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const inAWeek = () => Math.floor(Date.now() / 1000) + 7 * 86_400;

describe('download links tell nothing about files that exist', () => {
  it('when a link has a bad or missing signature, or names no file, then every answer is the same status and body', async () => {
    const user = await signIn(stack);
    const mp3Fid = await storeGridFsFile(stack.mongo, 'mp3s', randomBytes(4096), { filename: 'song.mp3', metadata: { owner: user.email } });
    const unknownFid = new ObjectId().toHexString();
    const expires = inAWeek();
    const forged = signatureOf({ mp3Fid, owner: 'someone-else@example.test', expires }, TEST_LINK_SECRET);
    const answers = [];
    for (const query of [
      `fid=${mp3Fid}&expires=${expires}&sig=${forged}`,
      `fid=${mp3Fid}&expires=${expires}&sig=`,
      `fid=${mp3Fid}&expires=${expires}`,
      `fid=${unknownFid}&expires=${expires}&sig=${forged}`,
      `fid=${unknownFid}&expires=${expires}&sig=`,
      `fid=${unknownFid}&expires=${expires}`,
    ]) {
      const res = await fetch(`${stack.url}/download?${query}`);
      answers.push({ query, status: res.status, type: res.headers.get('content-type'), body: await res.text() });
    }
    const first = answers[0]!;
    expect(first.status).toBe(403);
    expect(JSON.parse(first.body).error.code).toBe('invalid_link');
    for (const answer of answers) expect({ ...answer, query: undefined }, answer.query).toEqual({ ...first, query: undefined });
    // The honest link still works: the file was there all along.
    const good = signatureOf({ mp3Fid, owner: user.email, expires }, TEST_LINK_SECRET);
    expect((await fetch(`${stack.url}/download?fid=${mp3Fid}&expires=${expires}&sig=${good}`)).status).toBe(200);
  });
});
