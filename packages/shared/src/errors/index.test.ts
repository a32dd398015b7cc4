import { describe, expect, it } from 'vitest';
import { StorageTimeoutError, withDeadline } from '../storage/deadline.js';
import { AppError, causeOf, unavailable } from './index.js';

describe('causeOf', () => {
  it('when a 503 wraps a driver error, then the summary names its class, message and code, never the wrapper', () => {
    const driver = Object.assign(new Error('connection 3 to 127.0.0.1:27017 closed'), { name: 'MongoNetworkError' });
    class MongoNetworkError extends Error {}
    const typed = Object.assign(new MongoNetworkError(driver.message), { code: 'ECONNRESET' });
    expect(causeOf(unavailable('storage unavailable, try again later', 'storage_unavailable', typed))).toEqual({
      type: 'MongoNetworkError',
      message: 'connection 3 to 127.0.0.1:27017 closed',
      code: 'ECONNRESET',
    });
  });

  it('when an operation under a deadline fails, then the summary names the operation', async () => {
    const failed = await withDeadline(1_000, () => Promise.reject(new Error('E11000 duplicate key')), 'recording an upload').catch((e: unknown) => e);
    expect(causeOf(new AppError(500, 'internal', 'internal server error', {}, { cause: failed }))).toMatchObject({
      type: 'Error',
      message: 'E11000 duplicate key',
      operation: 'recording an upload',
    });
  });

  it('when a deadline passes, then the timeout names what did not answer', async () => {
    const late = await withDeadline(1, () => new Promise(() => undefined), 'writing a GridFS chunk').catch((e: unknown) => e);
    expect(late).toBeInstanceOf(StorageTimeoutError);
    expect(causeOf(late)).toMatchObject({ type: 'StorageTimeoutError', operation: 'writing a GridFS chunk' });
  });
});
