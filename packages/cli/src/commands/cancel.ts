import { flag, oneId } from '../args.js';
import { type Command, printJson } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import { isFinal } from '@mp3converter/shared/contracts/job-states';

export const cancel: Command = {
  name: 'cancel',
  summary: 'call off a queued or converting job (--delete: remove an ended one)',
  help: `Usage: mp3c cancel ID [--delete]

Cancels the job ID: a queued job at once, a converting one as soon as its converter stops ffmpeg (the job
then shows cancelled). A job that already ended is left alone unless --delete is given, which removes it
with its MP3 and video. Exit 0 when cancelled (or already cancelled), 1 when the job already ended or is
finishing, 4 when there is no such job.

      --delete            remove a job that ended (done, failed, cancelled), its MP3 included`,
  options: { delete: { type: 'boolean' } },
  async run(ctx, parsed) {
    const id = oneId(parsed);
    const api = await ctx.api();
    const job = await api.job(id);
    const remove = flag(parsed, 'delete');
    if (isFinal(job.state) && !remove) {
      if (job.state === 'cancelled') {
        if (ctx.json) printJson(ctx, { video_fid: id, result: 'already_cancelled', job });
        else ctx.stdout.write(`${id}: already cancelled\n`);
        return EXIT.ok;
      }
      throw new CliError(EXIT.error, `${id}: the job is already ${job.state}, nothing to cancel (--delete removes it and its MP3)`);
    }
    if (!isFinal(job.state) && remove) throw new CliError(EXIT.error, `${id}: the job is ${job.state}; cancel it first, --delete is for a job that ended`);
    const { status, job: after } = await api.deleteJob(id);
    const result = status === 200 ? 'cancelled' : status === 202 ? 'cancel_requested' : 'deleted';
    const words = {
      cancelled: 'cancelled',
      cancel_requested: 'cancel requested: the converter is stopping it (mp3c status --watch shows when it is cancelled)',
      deleted: 'deleted, with its MP3 and video',
    }[result];
    if (ctx.json) printJson(ctx, { video_fid: id, result, ...(after ? { job: after } : {}) });
    else ctx.stdout.write(`${id}: ${words}\n`);
    return EXIT.ok;
  },
};
