import { describe, expect, it } from 'vitest';
import { checkSignedLink, checkSignedZipLink, signatureOf, signedDownloadPath, signedZipPath, zipSignatureOf } from './index.js';

const secret = 'a-download-link-secret-of-32-bytes!!';
const link = { mp3Fid: '65f0c0ffee00112233445566', owner: 'a@example.test', expires: 2_000_000_000 };

describe('signed download links', () => {
  it('when a link is checked as it was made, then valid until its expiry, expired after', () => {
    const sig = signatureOf(link, secret);
    expect(checkSignedLink(link, sig, secret, 1_900_000_000_000)).toBe('valid');
    expect(checkSignedLink(link, sig, secret, 2_000_000_000_000)).toBe('expired');
  });

  it.each([
    ['another file', { ...link, mp3Fid: '65f0c0ffee00112233445567' }],
    ['another owner', { ...link, owner: 'b@example.test' }],
    ['a later expiry', { ...link, expires: link.expires + 1 }],
  ])('when %s is put in the link, then it is invalid', (_label, altered) => {
    expect(checkSignedLink(altered, signatureOf(link, secret), secret, 0)).toBe('invalid');
  });

  it('when the signature is not the right length or the secret differs, then invalid', () => {
    expect(checkSignedLink(link, 'short', secret, 0)).toBe('invalid');
    expect(checkSignedLink(link, signatureOf(link, 'another-secret-of-more-than-32-bytes'), secret, 0)).toBe('invalid');
  });

  it('when a path is made, then it carries the id, the expiry and a URL-safe signature', () => {
    expect(signedDownloadPath(link, secret)).toMatch(/^\/download\?fid=65f0c0ffee00112233445566&expires=2000000000&sig=[A-Za-z0-9_-]{43}$/);
  });
});

describe('signed ZIP links', () => {
  const zip = { videoFids: ['65f0c0ffee00112233445566', '65f0c0ffee00112233445577'], owner: 'a@example.test', expires: 2_000_000_000 };

  it('when a ZIP link is checked as it was made, then valid until its expiry, in either case of its ids', () => {
    const sig = zipSignatureOf(zip, secret);
    expect(checkSignedZipLink(zip, sig, secret, 1_900_000_000_000)).toBe('valid');
    expect(checkSignedZipLink({ ...zip, videoFids: zip.videoFids.map((f) => f.toUpperCase()) }, sig, secret, 0)).toBe('valid');
    expect(checkSignedZipLink(zip, sig, secret, 2_000_000_000_000)).toBe('expired');
  });

  it.each([
    ['one id fewer', { ...zip, videoFids: zip.videoFids.slice(0, 1) }],
    ['one id more', { ...zip, videoFids: [...zip.videoFids, '65f0c0ffee00112233445588'] }],
    ['another order of the ids', { ...zip, videoFids: [...zip.videoFids].reverse() }],
    ['two ids made one', { ...zip, videoFids: [zip.videoFids.join(',')] }],
    ['another owner', { ...zip, owner: 'b@example.test' }],
  ])('when %s is put in a ZIP link, then it is invalid', (_label, altered) => {
    expect(checkSignedZipLink(altered, zipSignatureOf(zip, secret), secret, 0)).toBe('invalid');
  });

  it("when a single MP3's signature is offered for a ZIP of that one id, or the reverse, then it is invalid", () => {
    const one = { mp3Fid: zip.videoFids[0]!, owner: zip.owner, expires: zip.expires };
    const asZip = { videoFids: [one.mp3Fid], owner: one.owner, expires: one.expires };
    expect(checkSignedZipLink(asZip, signatureOf(one, secret), secret, 0)).toBe('invalid');
    expect(checkSignedLink(one, zipSignatureOf(asZip, secret), secret, 0)).toBe('invalid');
  });

  it('when a ZIP path is made, then it carries every id in order, the expiry and a URL-safe signature', () => {
    expect(signedZipPath(zip, secret)).toMatch(
      /^\/download\.zip\?fid=65f0c0ffee00112233445566&fid=65f0c0ffee00112233445577&expires=2000000000&sig=[A-Za-z0-9_-]{43}$/,
    );
  });
});
