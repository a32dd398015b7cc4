import { describe, expect, it } from 'vitest';
import { readErrorBody } from './error-body.js';

describe('readErrorBody', () => {
  it('when the body is the gateway error, then its code and message; a missing message is the code', () => {
    expect(readErrorBody('{"error":{"code":"quota_exceeded","message":"over your quota"}}')).toEqual({ code: 'quota_exceeded', message: 'over your quota' });
    expect(readErrorBody('{"error":{"code":"upload_busy"}}')).toEqual({ code: 'upload_busy', message: 'upload_busy' });
  });

  it('when the body is anything else, then nothing', () => {
    for (const text of ['', '<html>502 Bad Gateway</html>', '{"error":"nope"}', '{"error":{"message":"no code"}}', 'null'])
      expect(readErrorBody(text)).toBeUndefined();
  });
});
