import type { Api, JobView } from './api.js';
import { isFinal } from '@mp3converter/shared/contracts/job-states';
import { bytes, el, ordinal, seconds } from './format.js';

/** What a job's line says about where it is. */
export function describe(job: JobView): string {
  switch (job.state) {
    case 'queued':
      return job.cancel_requested ? 'cancelling…' : job.position ? `queued, ${ordinal(job.position)} in line` : 'queued';
    case 'converting': {
      if (job.cancel_requested) return 'cancelling…';
      const eta = job.eta_seconds !== null ? `, about ${seconds(job.eta_seconds)} left` : '';
      return `converting ${Math.floor(job.percent ?? 0)}%${eta}`;
    }
    case 'done': {
      const split = job.mp3s.length > 1;
      if (job.expired) return split ? 'done; the MP3s have expired' : 'done; the MP3 has expired';
      const size = split ? job.mp3s.reduce((sum, m) => sum + m.size, 0) : job.mp3_size;
      return `done${split ? `, ${job.mp3s.length} parts` : ''}${size !== null ? `, ${bytes(size)}` : ''}`;
    }
    case 'failed':
      return `failed: ${job.reason ?? 'no reason given'}`;
    case 'cancelled':
      return 'cancelled';
  }
}

/** A done job whose MP3 is still there: one that can be downloaded, alone or in a ZIP. */
const downloadable = (view: JobView) => view.state === 'done' && !view.expired;

/** The user's jobs, newest first, each kept up to date from the event stream; done ones can be ticked. */
export class JobList {
  private readonly jobs = new Map<string, { view: JobView; row: HTMLLIElement }>();
  /** The ticked jobs, kept across a row's re-rendering. */
  private readonly selected = new Set<string>();
  /** Bumped by clear(): an answer to a request made before it (another user's, after a logout) is dropped. */
  private generation = 0;

  constructor(
    private readonly list: HTMLUListElement,
    private readonly api: Api,
    private readonly onError: (message: string) => void,
    /** Called whenever the ticked jobs change. */
    private readonly onSelection: (count: number) => void = () => undefined,
  ) {}

  clear(): void {
    this.generation += 1;
    this.jobs.clear();
    this.selected.clear();
    this.list.replaceChildren();
    this.onSelection(0);
  }

  /** The ticked jobs' ids, in the list's order (newest first). */
  selection(): string[] {
    return [...this.list.querySelectorAll<HTMLLIElement>('li')].map((row) => row.dataset.fid ?? '').filter((fid) => this.selected.has(fid));
  }

  private select(fid: string, on: boolean): void {
    if (on) this.selected.add(fid);
    else this.selected.delete(fid);
    this.onSelection(this.selected.size);
  }

  async reload(): Promise<void> {
    const asked = this.generation;
    const { jobs } = await this.api.jobs();
    if (asked !== this.generation) return;
    for (const view of [...jobs].reverse()) this.show(view);
  }

  /** A job changed state: its whole view is read again (filename, MP3, reason). */
  async refresh(fid: string): Promise<void> {
    const asked = this.generation;
    try {
      const view = await this.api.job(fid);
      if (asked === this.generation) this.show(view);
    } catch {
      // gone (deleted elsewhere): its row goes too
      if (asked === this.generation) this.forget(fid);
    }
  }

  /** Jobs being read because a tick came for one not listed yet: one read each, however many ticks. */
  private readonly reading = new Set<string>();

  /** A progress tick: only the numbers change. */
  progress(fid: string, tick: Record<string, unknown>): void {
    const known = this.jobs.get(fid);
    if (!known) {
      if (this.reading.has(fid)) return;
      this.reading.add(fid);
      void this.refresh(fid).finally(() => this.reading.delete(fid));
      return;
    }
    const view: JobView = { ...known.view, state: 'converting' };
    if (typeof tick.percent === 'number') view.percent = tick.percent;
    if (typeof tick.eta_seconds === 'number') view.eta_seconds = tick.eta_seconds;
    if (typeof tick.speed === 'number') view.speed = tick.speed;
    if (typeof tick.position === 'number') view.position = tick.position;
    this.show(view);
  }

  position(fid: string, position: number): void {
    const known = this.jobs.get(fid);
    if (known && known.view.state === 'queued') this.show({ ...known.view, position });
  }

  private forget(fid: string): void {
    this.jobs.get(fid)?.row.remove();
    this.jobs.delete(fid);
    if (this.selected.has(fid)) this.select(fid, false);
  }

  private show(view: JobView): void {
    const known = this.jobs.get(view.video_fid);
    // Events may come out of order around a reconnect: a final state is never undone by a late tick.
    if (known && isFinal(known.view.state) && !isFinal(view.state)) return;
    const row = known?.row ?? el('li');
    row.dataset.fid = view.video_fid;
    row.dataset.state = view.state;
    const stateChanged = !known || known.view.state !== view.state;
    this.jobs.set(view.video_fid, { view, row });
    if (!known) this.list.prepend(row);
    if (stateChanged) this.render(view, row);
    else this.update(view, row);
  }

  /** Numbers only, so a playing `<audio>` or a focused button is left alone. */
  private update(view: JobView, row: HTMLLIElement): void {
    const state = row.querySelector<HTMLElement>('.state');
    if (state) state.textContent = describe(view);
    const bar = row.querySelector('progress');
    if (bar && view.percent !== null) bar.value = view.percent;
  }

  private render(view: JobView, row: HTMLLIElement): void {
    const name = view.filename ?? view.video_fid;
    const state = el('span', { className: 'state', textContent: describe(view) });
    state.dataset.state = view.state;
    const title = el('span', { className: 'name', textContent: name });
    let heading: Node = title;
    if (downloadable(view)) {
      const tick = el('input', { type: 'checkbox', className: 'pick', checked: this.selected.has(view.video_fid) });
      tick.setAttribute('aria-label', `Select ${name}`);
      tick.addEventListener('change', () => this.select(view.video_fid, tick.checked));
      heading = el('label', { className: 'picked' }, tick, title);
    } else if (this.selected.has(view.video_fid)) this.select(view.video_fid, false);
    const parts: Node[] = [heading, state];
    if (view.state === 'converting' || view.state === 'queued') {
      const bar = el('progress', { max: 100, value: view.percent ?? 0 });
      bar.setAttribute('aria-label', `conversion of ${name}`);
      parts.push(bar);
    }
    const actions = el('div', { className: 'actions' });
    if (!isFinal(view.state)) {
      actions.append(this.button('Cancel', `Cancel the conversion of ${name}`, () => this.remove(view.video_fid)));
    } else {
      if (downloadable(view)) {
        // The job's link: its MP3, or for a job split by chapters the ZIP of all its parts, listed instead of a player.
        const split = view.mp3s.length > 1;
        const download = el('a', { className: 'button', textContent: split ? 'Download all (ZIP)' : 'Download MP3', href: '#' });
        download.download = `${stemOf(view.filename)}.${split ? 'zip' : 'mp3'}`;
        const player = split ? undefined : el('audio', { controls: true, preload: 'metadata' });
        if (player) {
          player.setAttribute('aria-label', `${name} as MP3`);
          parts.push(player);
        } else {
          download.setAttribute('aria-label', `Download all ${view.mp3s.length} parts of ${name} as one ZIP`);
          parts.push(partList(view));
        }
        actions.append(download);
        void this.api.link(view.video_fid).then(
          (href) => {
            if (player) player.src = href;
            download.href = href;
          },
          () => this.onError(`no download link for ${name} yet`),
        );
      }
      actions.append(this.button('Delete', `Delete ${name} and its MP3`, () => this.remove(view.video_fid)));
    }
    parts.push(actions);
    row.replaceChildren(...parts);
  }

  private button(label: string, description: string, onClick: () => Promise<void>): HTMLButtonElement {
    const button = el('button', { type: 'button', className: 'secondary', textContent: label });
    button.setAttribute('aria-label', description);
    button.addEventListener('click', () => {
      button.disabled = true;
      onClick().finally(() => {
        button.disabled = false;
      });
    });
    return button;
  }

  private async remove(fid: string): Promise<void> {
    try {
      const status = await this.api.remove(fid);
      if (status === 204) this.forget(fid);
      else await this.refresh(fid);
    } catch (err) {
      this.onError((err as Error).message);
    }
  }
}

/** The name a download is saved under, less its extension: the video's, or `audio`. */
const stemOf = (filename: string | null): string => (filename ?? 'audio').replace(/\.[^.]+$/, '') || 'audio';

/** A split job's parts, numbered as in its ZIP, each with its title (as text) and length. */
function partList(view: JobView): HTMLOListElement {
  const width = Math.max(2, String(view.mp3s.length).length);
  const list = el('ol', { className: 'parts' });
  list.setAttribute('aria-label', `Parts of ${view.filename ?? view.video_fid}`);
  for (const [i, part] of view.mp3s.entries()) {
    list.append(
      el(
        'li',
        {},
        el('span', { className: 'n', textContent: String(i + 1).padStart(width, '0') }),
        ' ',
        el('span', { className: 'title', textContent: part.title || '(untitled)' }),
        ...(part.duration !== null ? [' ', el('span', { className: 'length', textContent: seconds(part.duration) })] : []),
      ),
    );
  }
  return list;
}
