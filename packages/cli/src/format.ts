import type { JobView } from './api.client.js';

import { formatBytes } from '@mp3converter/shared/units';

export { formatBytes };

/** A percentage of `total`, whole, never 100 before the end. */
export function percentOf(done: number, total: number): number {
  if (total <= 0) return 100;
  if (done >= total) return 100;
  return Math.min(99, Math.floor((done / total) * 100));
}

/** One line for where a job stands: `queued (position 2)`, `converting 41% (328× realtime, 2 s left)`, `failed: …`. */
export function describeState(job: Pick<JobView, 'state' | 'position' | 'percent' | 'speed' | 'eta_seconds' | 'reason' | 'cancel_requested'>): string {
  switch (job.state) {
    case 'queued':
      return job.position ? `queued (position ${job.position})` : 'queued';
    case 'converting': {
      const details = [job.speed ? `${job.speed}× realtime` : '', job.eta_seconds != null ? `${Math.ceil(job.eta_seconds)} s left` : '']
        .filter(Boolean)
        .join(', ');
      const cancelling = job.cancel_requested ? ', cancelling' : '';
      return `converting ${Math.floor(job.percent ?? 0)}%${details ? ` (${details})` : ''}${cancelling}`;
    }
    case 'failed':
      return job.reason ? `failed: ${job.reason}` : 'failed';
    default:
      return job.state;
  }
}

/** The job view as `key  value` lines, for people. */
export function formatJob(job: JobView): string {
  const rows: [string, string | null][] = [
    ['video_fid', job.video_fid],
    ['state', describeState(job)],
    ['filename', job.filename],
    ['size', job.size === null ? null : formatBytes(job.size)],
    ['duration', job.duration_seconds === null ? null : `${job.duration_seconds} s`],
    [
      'options',
      Object.keys(job.options).length
        ? Object.entries(job.options)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : null,
    ],
    ['mp3_fid', job.mp3_fid],
    ['mp3_size', job.mp3_size === null ? null : formatBytes(job.mp3_size)],
    ['download', job.mp3_fid && !job.expired ? `mp3c download ${job.video_fid}` : null],
    ['expires_at', job.expired ? `${job.expires_at} (expired)` : job.expires_at],
    ['created_at', job.created_at],
    ['finished_at', job.finished_at],
  ];
  return rows
    .filter((r): r is [string, string] => r[1] !== null && r[1] !== undefined)
    .map(([k, v]) => `${k.padEnd(11)} ${v}`)
    .join('\n');
}

/** Rows as a table with a header, columns padded to their widest cell (the last one left ragged). */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A file name from something a server or a user's upload chose: no folders, no control characters. */
export function safeName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  return base === '.' || base === '..' ? '' : base;
}

/** The MP3's default file name: the video's name with `.mp3` (as the gateway names the download). */
export function mp3NameFor(videoFilename: string | null, fallback: string): string {
  return `${stemFor(videoFilename) || fallback}.mp3`;
}

/** The same for the ZIP of a split job's parts: `talk.mp4` → `talk.zip`. */
export function zipNameFor(videoFilename: string | null, fallback: string): string {
  return `${stemFor(videoFilename) || fallback}.zip`;
}

const stemFor = (videoFilename: string | null): string => safeName(videoFilename ?? '').replace(/\.[^.]*$/, '');
