import { AppError, methodNotAllowed } from '@mp3converter/shared/errors';
import { type JobEvent, type StreamedJobEvent, stateEventOf } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import express, { type Response, type Router } from 'express';
import type { EventHub } from '../domain/event-hub.js';
import type { AuthClient, JobViews } from '../domain/ports.js';
import { authenticate, userOf } from './authenticate.js';

export interface EventsRouteDeps {
  auth: AuthClient;
  hub: EventHub;
  jobs: Pick<JobViews, 'changedSince' | 'positionOf'>;
  logger: Logger;
  /** A comment line this often keeps proxies and the idle timeout from closing a quiet stream, ms. */
  keepAliveMs: number;
  /** A stream opened with an API key asks auth about the key again this often, and ends once it is refused, ms. */
  keyRecheckMs: number;
}

/** The `id:` of an event: its time in epoch milliseconds, which `Last-Event-ID` hands back on reconnect. */
const idOf = (event: JobEvent): number => Date.parse(event.at);

/**
 * A reconnect replays the jobs that changed since a little before its `Last-Event-ID`: a change is written
 * to the store a moment before its event is stamped, and replicas' clocks differ a little, so a change
 * recorded just before the last event seen may not have reached the client. A state it already has may
 * come again; it is the same snapshot.
 */
export const REPLAY_MARGIN_MS = 5_000;

/** setTimeout's longest delay (about 24.8 days); a token that lives longer has its stream ended then, and reconnected. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function write(res: Response, event: JobEvent, id = idOf(event)): void {
  const { owner: _owner, ...shown }: JobEvent = event;
  const data: StreamedJobEvent = shown;
  res.write(`id: ${id}\nevent: job\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Asks auth about a key every `everyMs` and calls `refused` once auth refuses it (revoked, expired). A check
 * that cannot be made (auth away, the key's rate spent) leaves the stream be: the next one decides.
 */
function recheckKey(auth: AuthClient, authorization: string, everyMs: number, refused: () => void): NodeJS.Timeout {
  let checking = false;
  return setInterval(() => {
    if (checking) return;
    checking = true;
    auth
      .validate(authorization)
      .then((answer) => {
        if ('refused' in answer && answer.refused.status !== 429) refused();
      })
      .catch(() => undefined)
      .finally(() => (checking = false));
  }, everyMs);
}

/**
 * GET /events: one Server-Sent Events stream per user with every state change and progress tick of their
 * jobs. A stream that reconnects with `Last-Event-ID` first gets the current state of each job that changed
 * since then; a fresh one gets a `ready` event, after which a `GET /jobs` and the stream together miss
 * nothing. The token goes in the Authorization header only (clients use fetch-based SSE).
 */
export function eventsRouter({ auth, hub, jobs, logger, keepAliveMs, keyRecheckMs }: EventsRouteDeps): Router {
  const router = express.Router();
  router.get('/events', authenticate(auth, 'read'), async (req, res) => {
    const owner = userOf(res).username;
    const since = Number(req.get('last-event-id'));
    // Live events wait here until the replay is written, so that they follow it.
    let pending: JobEvent[] | undefined = [];
    let ended = false;
    const leave = hub.subscribe(owner, {
      send: (event) => {
        if (pending) pending.push(event);
        else write(res, event);
      },
      close: () => {
        ended = true;
        res.end();
      },
    });
    if (!leave) throw new AppError(429, 'too_many_streams', 'too many event streams open for this user; close one first', { 'Retry-After': '10' });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    const stop = () => {
      ended = true;
      clearInterval(keepAlive);
      clearTimeout(tokenExpiry);
      clearInterval(keyCheck);
      leave();
    };
    // The stream lives no longer than the token that opened it: the client reconnects with a valid one, or not at all.
    const { exp } = userOf(res);
    const tokenExpiry =
      exp === undefined
        ? undefined
        : setTimeout(
            () => {
              stop();
              res.end();
            },
            Math.min(Math.max(exp * 1000 - Date.now(), 0), MAX_TIMER_MS),
          );
    // A key can be revoked while its stream is open; a login token cannot, and ends with its expiry above.
    const keyCheck =
      userOf(res).key === undefined
        ? undefined
        : recheckKey(auth, req.get('authorization')!, keyRecheckMs, () => {
            stop();
            res.end();
          });
    req.on('close', stop);
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    try {
      if (Number.isFinite(since) && since > 0) {
        // Ids never go back below the one the client resumed from, so its next reconnect starts no earlier.
        for (const job of await jobs.changedSince(owner, new Date(since - REPLAY_MARGIN_MS))) {
          const event = stateEventOf(job, await jobs.positionOf(job));
          write(res, event, Math.max(idOf(event), since));
        }
      } else {
        res.write(`id: ${Date.now()}\nevent: ready\ndata: {}\n\n`);
      }
    } catch (err) {
      logger.warn({ err }, 'event stream replay failed');
      res.end();
      return;
    }
    const waiting = pending;
    pending = undefined;
    if (!ended) for (const event of waiting) write(res, event);
  });
  router.all('/events', methodNotAllowed('GET'));
  return router;
}
