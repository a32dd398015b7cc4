import { z } from 'zod';
import { DEFAULT_WEBHOOK_PORTS, type DestinationRules, describePorts, isCidr, parsePortRanges } from './destination.js';
import { WEBHOOKS_DATABASE } from './model.js';

const cidrList = z
  .string()
  .default('')
  .transform((s, ctx) => {
    const items = s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const bad = items.filter((c) => !isCidr(c));
    if (bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `not an address or address/prefix: ${bad.join(', ')}` });
      return z.NEVER;
    }
    return items;
  });

/**
 * The settings of where webhooks may go, one set for the gateway (which checks URLs at registration) and
 * the webhooks worker (which checks every address it connects to): both must read the same values.
 */
export const webhookDestinationEnv = {
  /** Address ranges of a deployment's own receivers, allowed although private (e.g. `10.8.0.0/16`, `127.0.0.1`). Default none. */
  WEBHOOK_ALLOWED_DESTINATIONS: cidrList,
  /** More ranges to refuse: the cluster's pod and service ranges when they are not private ones. Default none. */
  WEBHOOK_BLOCKED_DESTINATIONS: cidrList,
  /** Ports a webhook URL may name. Default 80,443,1024-65535. */
  WEBHOOK_ALLOWED_PORTS: z
    .string()
    .default(describePorts(DEFAULT_WEBHOOK_PORTS).replace(/ /g, ''))
    .transform((s, ctx) => {
      const ranges = parsePortRanges(s);
      if (!ranges) {
        ctx.addIssue({ code: 'custom', message: 'expected ports and ranges between 1 and 65535, e.g. 80,443,1024-65535' });
        return z.NEVER;
      }
      return ranges;
    }),
  /** The MongoDB database of endpoints and deliveries. Default webhooks. */
  WEBHOOK_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'a database name')
    .default(WEBHOOKS_DATABASE),
} as const;

export const destinationRulesOf = (c: {
  WEBHOOK_ALLOWED_DESTINATIONS: string[];
  WEBHOOK_BLOCKED_DESTINATIONS: string[];
  WEBHOOK_ALLOWED_PORTS: [number, number][];
}): DestinationRules => ({ allow: c.WEBHOOK_ALLOWED_DESTINATIONS, block: c.WEBHOOK_BLOCKED_DESTINATIONS, ports: c.WEBHOOK_ALLOWED_PORTS });
