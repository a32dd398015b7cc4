import { describe, expect, it } from 'vitest';
import { recipientOf } from './recipient.js';

const VIDEO = '65f0c0ffee00112233445566';
const MP3 = '65f0c0ff0123456789abcdef';
const owner = 'owner@example.test';
const intruder = 'intruder@example.test';
const file = { owner, videoFid: VIDEO };

describe('recipientOf', () => {
  it('when the store knows neither the job nor the MP3 (the original gateway), then the named user is the recipient', () => {
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3 })).toEqual({ ok: true, to: owner });
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: null })).toEqual({ ok: true, to: owner });
  });

  it("when the message names the job's owner with the job's MP3, then the owner is the recipient", () => {
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, job: { owner, mp3Fids: [MP3] }, file })).toEqual({ ok: true, to: owner });
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, job: { owner, mp3Fids: [] }, file })).toEqual({ ok: true, to: owner });
  });

  it("when the message names another user than the job's owner, then owner_mismatch, whatever the MP3", () => {
    for (const f of [file, undefined]) {
      const check = recipientOf({ named: intruder, videoFid: VIDEO, mp3Fid: MP3, job: { owner, mp3Fids: [] }, file: f });
      expect(check).toEqual({ ok: false, reason: expect.stringMatching(/^owner_mismatch: /) });
    }
    expect(recipientOf({ named: intruder, videoFid: VIDEO, mp3Fid: null, job: { owner, mp3Fids: [] } })).toMatchObject({ ok: false });
  });

  it('when the MP3 is stored for another user, then owner_mismatch, known job or not', () => {
    expect(recipientOf({ named: intruder, videoFid: VIDEO, mp3Fid: MP3, file })).toEqual({ ok: false, reason: expect.stringMatching(/^owner_mismatch: /) });
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, job: { owner, mp3Fids: [] }, file: { owner: intruder, videoFid: VIDEO } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^owner_mismatch: /),
    });
  });

  it('when the MP3 is of another video, or not the one the job made, then mp3_mismatch', () => {
    const other = '65f0c0ffee00112233449999';
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, file: { owner, videoFid: other } })).toEqual({
      ok: false,
      reason: expect.stringMatching(/^mp3_mismatch: /),
    });
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, job: { owner, mp3Fids: ['65f0c0ff0123456789abcd00'] }, file })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^mp3_mismatch: /),
    });
  });

  it('when the message names one part of a job split by chapters, then the owner is the recipient; a part of no job of theirs, mp3_mismatch', () => {
    const parts = [MP3, '65f0c0ff0123456789abcd01', '65f0c0ff0123456789abcd02'];
    const job = { owner, mp3Fids: parts };
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: parts[0]!.toUpperCase(), job, file })).toEqual({ ok: true, to: owner });
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: '65f0c0ff0123456789abcd99', job, file })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^mp3_mismatch: /),
    });
  });

  it('when the job is known but its MP3 is not stored, then mp3_mismatch', () => {
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, job: { owner, mp3Fids: [] } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^mp3_mismatch: /),
    });
  });

  it('when an MP3 stored before owners and videos were recorded on it carries neither, then only the job decides', () => {
    expect(recipientOf({ named: owner, videoFid: VIDEO, mp3Fid: MP3, file: { owner: null, videoFid: null } })).toEqual({ ok: true, to: owner });
  });
});
