import { flag, oneId } from '../args.js';
import { type Command, printJson } from '../command.js';
import { EXIT } from '../errors.js';
import { describeState, formatJob } from '../format.js';
import { createProgress } from '../progress.js';
import { isFinal } from '@mp3converter/shared/contracts/job-states';
import { watchJob } from '../watch.js';

export const status: Command = {
  name: 'status',
  summary: 'show a job; --watch follows it until it ends',
  help: `Usage: mp3c status ID [--watch]

Shows the job ID (the video_fid mp3c upload printed). With --watch, follows it on the event stream
(progress on stderr: a bar on a terminal, a line per change otherwise) until it is done, failed or
cancelled, then shows it. Exit 5 when the job failed or was cancelled, 4 when there is no such job.

  -w, --watch             follow the job until it ends`,
  options: { watch: { type: 'boolean', short: 'w' } },
  async run(ctx, parsed) {
    const id = oneId(parsed);
    const api = await ctx.api();
    let job = await api.job(id);
    if (flag(parsed, 'watch') && !isFinal(job.state)) {
      const progress = createProgress(ctx.stderr, 'converting', { bytes: false });
      let last = '';
      job = await watchJob(api, id, {
        signal: ctx.signal,
        onUpdate: (j) => {
          if (j.state === 'converting') progress.update(j.percent ?? 0, 100);
          else {
            const line = describeState(j);
            if (line !== last) progress.say(line);
            last = line;
          }
        },
      });
      progress.done();
    }
    if (ctx.json) printJson(ctx, job);
    else ctx.stdout.write(`${formatJob(job)}\n`);
    return job.state === 'failed' || job.state === 'cancelled' ? EXIT.jobFailed : EXIT.ok;
  },
};
