import { Counter, type Registry } from '@mp3converter/shared/metrics';

/** How a POST /login ended, a fixed set. */
export type LoginOutcome = 'success' | 'invalid_credentials' | 'missing_credentials' | 'throttled' | 'unavailable';

export interface LoginMetrics {
  login(outcome: LoginOutcome): void;
}

const OUTCOMES: readonly LoginOutcome[] = ['success', 'invalid_credentials', 'missing_credentials', 'throttled', 'unavailable'];

/** `auth_logins_total{outcome}`; every outcome is there from the start, at 0, so a rate of failures has a base. */
export function loginMetrics(registry: Registry): LoginMetrics {
  const logins = new Counter({ name: 'auth_logins_total', help: 'Login attempts, by outcome', labelNames: ['outcome'], registers: [registry] });
  for (const outcome of OUTCOMES) logins.inc({ outcome }, 0);
  return { login: (outcome) => logins.inc({ outcome }) };
}
