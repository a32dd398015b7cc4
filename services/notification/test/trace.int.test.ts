import { randomBytes } from 'node:crypto';
import { setUpTracing } from '@mp3converter/shared/tracing';
import { jsonOf, makeVideo, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Worker, startWorker as startConverter } from '../../converter/test/harness.js';
import { type Stack, readVideo, signIn, startStack, uploadFile } from '../../gateway/test/harness.js';
import { type Harness, startWorker } from './harness.js';
import { type TestSmtp, startSmtp } from './smtp.js';

/**
 * One upload, one trace: the gateway's request, the `video` message, the conversion, the `mp3` message and
 * the email share the trace id the client sent, through the real broker.
 */
let smtp: TestSmtp;
let stack: Stack;
let notification: Harness;
let converter: Worker;
let video: Buffer;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await setUpTracing({ service: 'mp3converter-test' });
  smtp = await startSmtp();
  stack = await startStack();
  notification = await startWorker(smtp.port);
  converter = await startConverter({ video: stack.videoQueue, mp3: notification.queues.mp3, failed: notification.queues.failed });
  const made = await makeVideo({ seconds: 2 });
  cleanups.push(made.cleanup);
  video = await readVideo(made.path);
});
afterAll(async () => {
  await converter?.worker.stop(1_000);
  await notification?.stop();
  await stack?.stop();
  await smtp?.close();
  for (const c of cleanups) await c();
});

describe('traces', () => {
  it('when a video is uploaded with a traceparent, then the conversion and the email log lines carry its trace id', async () => {
    const user = await signIn(stack);
    const traceId = randomBytes(16).toString('hex');
    const res = await uploadFile(stack, user.authorization, [{ name: 'traced.mp4', data: video }], '', {
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    });
    expect(res.status).toBe(202);
    const fid = (await jsonOf(res)).video_fid as string;

    const sent = await waitFor(() => notification.lines().find((l) => l.msg === 'email sent' && l.trace_id === traceId), {
      timeoutMs: 60_000,
      what: 'the email, in the trace',
    });
    expect(sent.span_id).toMatch(/^[0-9a-f]{16}$/);
    const converted = converter.lines().filter((l) => l.trace_id === traceId);
    expect(converted.length).toBeGreaterThan(0);
    expect(converted.some((l) => JSON.stringify(l).includes(fid))).toBe(true);
    // Nothing of another upload is in this trace.
    expect(notification.lines().filter((l) => l.trace_id === traceId && l.msg === 'email sent')).toHaveLength(1);
  });

  it("when a job is held for its owner's share and published later, then its email is still in its own upload's trace", async () => {
    const fair = await startStack({ USER_JOB_SLOTS: '1' }, stack);
    const worker = await startConverter({ video: fair.videoQueue, mp3: notification.queues.mp3, failed: notification.queues.failed });
    try {
      const user = await signIn(fair);
      const traces = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
      const fids: string[] = [];
      for (const traceId of traces) {
        const res = await uploadFile(fair, user.authorization, [{ name: 'held.mp4', data: video }], '', {
          traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        });
        expect(res.status).toBe(202);
        fids.push((await jsonOf(res)).video_fid as string);
      }
      for (const traceId of traces) {
        await waitFor(() => notification.lines().find((l) => l.msg === 'email sent' && l.trace_id === traceId), {
          timeoutMs: 60_000,
          what: `the email of trace ${traceId}`,
        });
      }
      // Each job's conversion ran in its own upload's trace, whichever event released it.
      for (const [i, fid] of fids.entries()) {
        const lines = worker.lines().filter((l) => JSON.stringify(l).includes(fid) && typeof l.trace_id === 'string');
        expect(lines.length).toBeGreaterThan(0);
        expect(new Set(lines.map((l) => l.trace_id))).toEqual(new Set([traces[i]]));
      }
    } finally {
      await worker.worker.stop(1_000);
      await fair.stop();
    }
  });
});
