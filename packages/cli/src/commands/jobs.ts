import { flag, intOpt } from '../args.js';
import { type Command, printJson } from '../command.js';
import { EXIT, usageError } from '../errors.js';
import { describeState, formatTable } from '../format.js';
import type { JobView } from '../api.client.js';

export const jobs: Command = {
  name: 'jobs',
  summary: 'list your jobs, newest first',
  help: `Usage: mp3c jobs [--limit N] [--all]

Lists your jobs, newest first, as a table (--json: one JSON array of the job views).

  -n, --limit N           at most N jobs (1–100, default 20)
  -a, --all               every job, page after page`,
  options: { limit: { type: 'string', short: 'n' }, all: { type: 'boolean', short: 'a' } },
  async run(ctx, parsed) {
    if (parsed.positionals.length > 0) throw usageError(`jobs takes no arguments (got ${parsed.positionals.join(' ')})`);
    const all = flag(parsed, 'all');
    const limit = intOpt(parsed, 'limit', 1, 100) ?? (all ? 100 : 20);
    const api = await ctx.api();
    const found: JobView[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.jobs(limit, cursor);
      found.push(...page.jobs);
      cursor = page.next_cursor ?? undefined;
    } while (all && cursor);
    if (ctx.json) printJson(ctx, found);
    else if (found.length === 0) ctx.stderr.write('no jobs\n');
    else {
      const rows = found.map((j) => [j.video_fid, describeState({ ...j, reason: null }), j.created_at.replace(/\.\d+Z$/, 'Z'), j.filename ?? '']);
      ctx.stdout.write(`${formatTable(['VIDEO_FID', 'STATE', 'CREATED', 'FILENAME'], rows)}\n`);
    }
    return EXIT.ok;
  },
};
