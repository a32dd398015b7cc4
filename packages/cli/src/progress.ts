import type { Output } from './context.js';
import { formatBytes, percentOf } from './format.js';

/** Shows how far something is: a bar redrawn in place on a terminal, a plain line per whole percent otherwise. */
export interface Progress {
  /** `done` of `total` bytes (or percent, with total 100 and `bytes: false`), with an optional note. */
  update(done: number, total: number, note?: string): void;
  /** A line of its own, kept above the bar. */
  say(text: string): void;
  /** Ends the bar's line. */
  done(): void;
}

const BAR_WIDTH = 24;
/** A terminal is redrawn at most this often, ms. */
const REDRAW_MS = 100;

export function createProgress(out: Output, label: string, { bytes = true, now = () => Date.now() } = {}): Progress {
  const tty = out.isTTY === true;
  let lastPercent = -1;
  let lastNote: string | undefined;
  let lastDraw = 0;
  let drawn = false;

  const measure = (done: number, total: number) => (bytes ? ` ${formatBytes(done)} of ${formatBytes(total)}` : '');

  return {
    update(done, total, note) {
      const percent = percentOf(done, total);
      if (!tty) {
        if (percent === lastPercent && note === lastNote) return;
        lastPercent = percent;
        lastNote = note;
        out.write(`${label}: ${percent}%${note ? ` ${note}` : ''}\n`);
        return;
      }
      const t = now();
      if (percent !== 100 && t - lastDraw < REDRAW_MS && drawn) return;
      lastDraw = t;
      const filled = Math.round((percent / 100) * BAR_WIDTH);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
      let text = `${label} [${bar}] ${String(percent).padStart(3)}%${measure(done, total)}${note ? ` ${note}` : ''}`;
      const columns = out.columns ?? 80;
      if (text.length > columns - 1) text = text.slice(0, columns - 1);
      out.write(`\r${text}\x1b[K`);
      drawn = true;
    },
    say(text) {
      if (tty && drawn) {
        out.write(`\r\x1b[K${text}\n`);
        // the bar comes back on the next update
        lastDraw = 0;
        drawn = false;
      } else out.write(`${text}\n`);
    },
    done() {
      if (tty && drawn) out.write('\n');
      drawn = false;
    },
  };
}
