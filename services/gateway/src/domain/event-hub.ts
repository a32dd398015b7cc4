import type { JobEvent } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobViews } from './ports.js';

export interface Subscriber {
  send(event: JobEvent): void;
  /** Ends the stream (the gateway is shutting down). */
  close(): void;
}

/**
 * Every open event stream of this gateway, by owner: job events from the broker (any worker, any gateway)
 * go to the streams of the job's owner and no one else's.
 */
export class EventHub {
  private readonly streams = new Map<string, Set<Subscriber>>();

  constructor(private readonly maxPerOwner: number) {}

  /** Undefined when the owner already has as many streams as allowed; otherwise the way to leave. */
  subscribe(owner: string, subscriber: Subscriber): (() => void) | undefined {
    const mine = this.streams.get(owner) ?? new Set<Subscriber>();
    if (mine.size >= this.maxPerOwner) return undefined;
    mine.add(subscriber);
    this.streams.set(owner, mine);
    return () => {
      mine.delete(subscriber);
      if (mine.size === 0 && this.streams.get(owner) === mine) this.streams.delete(owner);
    };
  }

  dispatch(event: JobEvent): void {
    for (const subscriber of this.streams.get(event.owner) ?? []) subscriber.send(event);
  }

  owners(): string[] {
    return [...this.streams.keys()];
  }

  get size(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  closeAll(): void {
    for (const set of this.streams.values()) for (const subscriber of [...set]) subscriber.close();
    this.streams.clear();
  }
}

/**
 * A queued job's place in line changes when any job ahead of it starts, which no event of its own says: every
 * `intervalMs` the queued jobs of owners with an open stream are looked at, and a changed position goes out
 * as an event on this gateway's streams.
 */
export class PositionWatch {
  private readonly known = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly hub: EventHub,
    private readonly jobs: Pick<JobViews, 'positionOf' | 'queuedOf'>,
    private readonly logger: Logger,
  ) {}

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const queued = await this.jobs.queuedOf(this.hub.owners());
      const seen = new Set<string>();
      for (const job of queued) {
        seen.add(job.videoFid);
        const position = await this.jobs.positionOf(job);
        if (position === null || this.known.get(job.videoFid) === position) continue;
        this.known.set(job.videoFid, position);
        this.hub.dispatch({ type: 'state', video_fid: job.videoFid, owner: job.owner, state: 'queued', at: new Date().toISOString(), position });
      }
      for (const videoFid of this.known.keys()) if (!seen.has(videoFid)) this.known.delete(videoFid);
    } catch (err) {
      this.logger.debug({ err }, 'queue positions not refreshed');
    } finally {
      this.running = false;
    }
  }
}
