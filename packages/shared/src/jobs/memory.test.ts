import { jobStoreContract } from '../../test/job-store.contract.js';
import { JobListCache } from './list-cache.js';
import { memoryJobStore } from './memory.js';
import { JobStore } from './store.js';

jobStoreContract('in memory', async () => {
  const { store, collections } = memoryJobStore({ worker: { id: 'worker-a', leaseMs: 60_000 }, listCache: new JobListCache(100) });
  return { store, other: new JobStore(collections, { worker: { id: 'worker-b', leaseMs: 60_000 } }) };
});
