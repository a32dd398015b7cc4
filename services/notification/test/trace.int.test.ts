import { randomBytes } from 'node:crypto';
import { setUpTracing } from '@mp3converter/shared/tracing';
import { captureLogger, jsonOf, makeVideo, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Worker, startWorker as startConverter } from '../../converter/test/harness.js';
import { type Stack, readVideo, signIn, startStack, uploadFile } from '../../gateway/test/harness.js';
import { type Harness, startWorker } from './harness.js';
import { type TestSmtp, startSmtp } from './smtp.js';

/**
 * One upload, one trace: the gateway's request, the `video` message, the conversion, the `mp3` message and
 * the email share one trace id, through the real broker. The gateway starts it: a client's does not count.
 */
let smtp: TestSmtp;
let stack: Stack;
let gatewayLines: () => Record<string, unknown>[];
let notification: Harness;
let converter: Worker;
let video: Buffer;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await setUpTracing({ service: 'mp3converter-test' });
  smtp = await startSmtp();
  const gatewayLog = captureLogger('gateway');
  gatewayLines = gatewayLog.lines;
  stack = await startStack({}, undefined, gatewayLog.logger);
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
  it('when a video is uploaded, then the conversion and the email log lines carry the trace id of its request, never one the client sent', async () => {
    const user = await signIn(stack);
    const sentByClient = randomBytes(16).toString('hex');
    const res = await uploadFile(stack, user.authorization, [{ name: 'traced.mp4', data: video }], '', {
      traceparent: `00-${sentByClient}-${randomBytes(8).toString('hex')}-00`,
    });
    expect(res.status).toBe(202);
    const fid = (await jsonOf(res)).video_fid as string;
    const traceId = await traceOfUpload(gatewayLines, 1);

    const sent = await waitFor(() => notification.lines().find((l) => l.msg === 'email sent' && l.trace_id === traceId), {
      timeoutMs: 60_000,
      what: 'the email, in the trace',
    });
    expect(sent.span_id).toMatch(/^[0-9a-f]{16}$/);
    const converted = converter.lines().filter((l) => l.trace_id === traceId);
    expect(converted.length).toBeGreaterThan(0);
    expect(converted.some((l) => JSON.stringify(l).includes(fid))).toBe(true);
    // Nothing of another upload is in this trace, and the client's own id went nowhere.
    expect(notification.lines().filter((l) => l.trace_id === traceId && l.msg === 'email sent')).toHaveLength(1);
    expect([...gatewayLines(), ...converter.lines(), ...notification.lines()].some((l) => l.trace_id === sentByClient)).toBe(false);
  });

  it("when a job is held for its owner's share and published later, then its email is still in its own upload's trace", async () => {
    const fairLog = captureLogger('gateway');
    const fair = await startStack({ USER_JOB_SLOTS: '1' }, stack, fairLog.logger);
    const worker = await startConverter({ video: fair.videoQueue, mp3: notification.queues.mp3, failed: notification.queues.failed });
    try {
      const user = await signIn(fair);
      const traces: string[] = [];
      const fids: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const res = await uploadFile(fair, user.authorization, [{ name: 'held.mp4', data: video }]);
        expect(res.status).toBe(202);
        fids.push((await jsonOf(res)).video_fid as string);
        traces.push(await traceOfUpload(fairLog.lines, i));
      }
      expect(new Set(traces).size).toBe(3);
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

/** The trace id of the `n`th POST /upload the gateway logged. */
const traceOfUpload = (lines: () => Record<string, unknown>[], n: number): Promise<string> =>
  waitFor(
    () => {
      const id = lines().filter((l) => l.msg === 'request' && l.method === 'POST' && l.path === '/upload')[n - 1]?.trace_id;
      return typeof id === 'string' ? id : undefined;
    },
    { what: `the trace of upload ${n}` },
  );
