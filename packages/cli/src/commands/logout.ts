import { type Command, printJson } from '../command.js';
import { EXIT, usageError } from '../errors.js';

export const logout: Command = {
  name: 'logout',
  summary: 'forget the token of the gateway',
  help: `Usage: mp3c logout

Removes the token kept for the gateway from this machine. (The token itself stays valid until it expires,
24 hours after the login: the gateway has no way to revoke it.)`,
  options: {},
  async run(ctx, parsed) {
    if (parsed.positionals.length > 0) throw usageError(`logout takes no arguments (got ${parsed.positionals.join(' ')})`);
    const removed = await ctx.store.remove(ctx.gateway);
    if (ctx.json) printJson(ctx, { gateway: ctx.gateway, removed });
    else ctx.stdout.write(removed ? `logged out of ${ctx.gateway}\n` : `not logged in to ${ctx.gateway}\n`);
    return EXIT.ok;
  },
};
