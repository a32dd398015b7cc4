import { ACTIVE_STATES, FINAL_STATES, type JobState } from '../contracts/job-states.js';
import type { JobDocument, JobMp3 } from './model.js';
import type { Filter, Update } from './query.js';

/**
 * Every change of a job's document, once: the states it may start from, what else must hold (its guard), and
 * the fields it sets. The store applies a transition as one conditional update, `{_id, state ∈ from,
 * deleted_at: null, …guard}` → `set`, so two changes that race cannot both apply where the table says
 * they exclude each other. Both stores (MongoDB's and the in-memory one) apply this table; the contract test
 * runs the same cases on both.
 *
 *   create ──▶ queued ──claim──▶ converting ──finishing──▶ (finishing) ──done──▶ done
 *                │  ▲               │  │ │
 *                │  └──release──────┘  │ └──failed / cancelled──▶ failed | cancelled
 *                │                     └──requestCancel (only before finishing; finishing only without one)
 *                └──cancel──▶ cancelled              failed ──revive──▶ queued (a replay)
 *   done | failed | cancelled ──expire──▶ (files gone, 410)   ──delete──▶ (tombstone)
 */
export interface Transition<P> {
  from: readonly JobState[];
  /**
   * Made many times per job, only to a job still to run or running, which it leaves so (lease renewals,
   * progress snapshots): a job list keeps no page holding such a job, so listings need not hear of it (see
   * JobStore.list). Every other transition gives the owner's list a new version.
   */
  quiet?: true;
  guard?: (p: P) => Filter<JobDocument>;
  set: (p: P) => Update<JobDocument>;
}

interface At {
  now: Date;
}
interface ByWorker extends At {
  worker: string;
}
interface Leased extends ByWorker {
  leaseUntil: Date;
}

const ended = (now: Date) => ({ progress: null, lease_until: null, worker: null, finishing: false, updated_at: now, finished_at: now }) as const;

/** A worker may take a job nobody holds, whose lease ran out, or that it holds itself (a redelivery to it). */
const leaseFree = ({ now, worker }: ByWorker): Filter<JobDocument> => ({ $or: [{ lease_until: null }, { lease_until: { $lt: now } }, { worker }] });
const heldBy = ({ worker }: { worker: string }): Filter<JobDocument> => ({ worker });

export const JOB_TRANSITIONS = {
  /** A worker takes the job; the attempt counts here, whoever delivered the message. */
  claim: {
    from: ACTIVE_STATES,
    guard: leaseFree,
    set: ({ now, worker, leaseUntil }: Leased) => ({
      $set: { state: 'converting', started_at: now, finishing: false, lease_until: leaseUntil, worker, updated_at: now },
      $inc: { attempts: 1 },
    }),
  },
  /** The worker holding it keeps it; changes nothing anybody watches. */
  renew: {
    from: ['converting'],
    quiet: true,
    guard: heldBy,
    set: ({ leaseUntil }: Leased) => ({ $set: { lease_until: leaseUntil } }),
  },
  /** The duration of the audio kept (the source's, or the trimmed part of it), once measured. */
  measure: {
    from: ACTIVE_STATES,
    quiet: true,
    set: ({ durationSeconds }: { durationSeconds: number }) => ({ $set: { duration_seconds: durationSeconds } }),
  },
  progress: {
    from: ['converting'],
    quiet: true,
    guard: heldBy,
    set: ({ now, percent, speed, etaSeconds }: ByWorker & { percent: number; speed: number | null; etaSeconds: number | null }) => ({
      $set: { progress: { percent, speed, eta_seconds: etaSeconds, at: now }, updated_at: now },
    }),
  },
  /** Past the point of no return (the MP3 is stored): not once its owner asked to cancel. */
  finishing: {
    from: ['converting'],
    guard: () => ({ cancel_requested_at: null }),
    set: ({ now }: At) => ({ $set: { finishing: true, updated_at: now } }),
  },
  /**
   * The job's MP3s are stored and announced: `mp3_fid` names the MP3 of a job that made one (as the original
   * has it) and is null for one split into several; `mp3_size`, what counts against the quota, is all of them.
   */
  done: {
    from: ACTIVE_STATES,
    set: ({ now, mp3s, expiresAt }: At & { mp3s: readonly JobMp3[]; expiresAt: Date }) => {
      if (mp3s.length === 0) throw new RangeError('a job is done with at least one MP3');
      return {
        $set: {
          state: 'done',
          mp3_fid: mp3s.length === 1 ? mp3s[0]!.fid.toLowerCase() : null,
          mp3s: mp3s.map((m) => ({ fid: m.fid.toLowerCase(), title: m.title, duration_seconds: m.durationSeconds, size: m.size })),
          mp3_size: mp3s.reduce((sum, m) => sum + m.size, 0),
          expires_at: expiresAt,
          reason: null,
          ...ended(now),
        },
      };
    },
  },
  failed: {
    from: ACTIVE_STATES,
    set: ({ now, reason, expiresAt }: At & { reason: string; expiresAt: Date }) => ({
      $set: { state: 'failed', reason, expires_at: expiresAt, ...ended(now) },
    }),
  },
  /** The worker stopped it, as its owner asked. */
  cancelled: {
    from: ACTIVE_STATES,
    set: ({ now }: At) => ({ $set: { state: 'cancelled', reason: 'cancelled by its owner', ...ended(now) } }),
  },
  /** Back to the queue: a retry joins the end of the line; a job handed back at shutdown (`refund`) keeps its place and its attempt. */
  release: {
    from: ['converting'],
    guard: heldBy,
    set: ({ now, lastError, refund }: ByWorker & { lastError: string | null; refund: boolean }) => ({
      $set: {
        state: 'queued',
        progress: null,
        lease_until: null,
        worker: null,
        finishing: false,
        updated_at: now,
        ...(refund ? {} : { queued_at: now }),
        ...(lastError ? { last_error: lastError } : {}),
      },
      ...(refund ? { $inc: { attempts: -1 } } : {}),
    }),
  },
  /** An operator replayed a failed job's message from the dead letters: a fresh set of attempts. */
  revive: {
    from: ['failed'],
    set: ({ now }: At) => ({ $set: { state: 'queued', attempts: 0, reason: null, last_error: null, finished_at: null, updated_at: now } }),
  },
  /** Its owner calls off a job no worker has started: in one step, so no worker can start it after. */
  cancel: {
    from: ['queued'],
    set: ({ now }: At) => ({ $set: { state: 'cancelled', reason: 'cancelled by its owner', progress: null, updated_at: now, finished_at: now } }),
  },
  /** Its owner asks the worker converting it to stop: not once it is finishing. */
  requestCancel: {
    from: ['converting'],
    guard: () => ({ finishing: { $ne: true } }),
    set: ({ now }: At) => ({ $set: { cancel_requested_at: now, updated_at: now } }),
  },
  /** A held job's message is about to be published. */
  dispatch: {
    from: ['queued'],
    guard: () => ({ dispatch: 'held' }),
    set: ({ now }: At) => ({ $set: { dispatch: 'pending', dispatched_at: now } }),
  },
  /** Its files were removed at its expiry: downloads answer 410. */
  expire: {
    from: FINAL_STATES,
    set: ({ now }: At) => ({ $set: { expired_at: now, updated_at: now } }),
  },
  /** Its owner deleted it: its files are gone, the document stays to answer a repeated DELETE. */
  delete: {
    from: FINAL_STATES,
    set: ({ now }: At) => ({ $set: { deleted_at: now, updated_at: now } }),
  },
} satisfies Record<string, Transition<never>>;

export type TransitionName = keyof typeof JOB_TRANSITIONS;
/**
 * Whether transition `name` may change what a job list keeps (JobStore.list): all but the quiet ones. Not only
 * those that change a finished job: on FerretDB, which applies an update as a read and a write of the whole
 * document, a claim that read a job before its owner cancelled it may write `converting` over `cancelled`.
 */
export const changesListedJobs = (name: TransitionName): boolean => !(JOB_TRANSITIONS[name] as Transition<never>).quiet;

export type ParamsOf<N extends TransitionName> = Parameters<(typeof JOB_TRANSITIONS)[N]['set']>[0];

/** The conditional update that applies transition `name` to the job `videoFid`. */
export function transition<N extends TransitionName>(
  name: N,
  videoFid: string,
  params: ParamsOf<N>,
): { filter: Filter<JobDocument>; update: Update<JobDocument> } {
  const t = JOB_TRANSITIONS[name] as Transition<ParamsOf<N>>;
  const filter: Filter<JobDocument> = { _id: videoFid, state: { $in: t.from }, deleted_at: null, ...t.guard?.(params) };
  return { filter, update: t.set(params) };
}
