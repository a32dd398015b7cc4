import { describe, expect, it } from 'vitest';
import { ACTIVE_STATES } from '../contracts/job-states.js';
import { JOB_TRANSITIONS, type TransitionName, changesListedJobs } from './transitions.js';

describe('the transitions a job list need not hear of', () => {
  it('when a transition is quiet, then it applies only to a job still to run or running, and leaves its state', () => {
    const quiet = (Object.keys(JOB_TRANSITIONS) as TransitionName[]).filter((name) => !changesListedJobs(name));
    expect(quiet.sort()).toEqual(['measure', 'progress', 'renew']);
    const params = { now: new Date(), worker: 'w', leaseUntil: new Date(), durationSeconds: 1, percent: 1, speed: 1, etaSeconds: 1 };
    for (const name of quiet) {
      const t = JOB_TRANSITIONS[name];
      expect(t.from.every((s) => ACTIVE_STATES.includes(s))).toBe(true);
      expect((t.set as (p: typeof params) => { $set?: object }).call(null, params).$set).not.toHaveProperty('state');
    }
  });
});
