import { ObjectId } from 'mongodb';
import { afterAll, inject } from 'vitest';
import { JobListCache } from '../src/jobs/list-cache.js';
import { ensureJobIndexes, mongoJobStore } from '../src/jobs/mongo.js';
import { createMongoClient } from '../src/storage/index.js';
import { jobStoreContract } from './job-store.contract.js';

const mongo = createMongoClient(inject('servers').mongoUrl, 'shared-test');
const databases: string[] = [];
afterAll(async () => {
  for (const name of databases) await mongo.db(name).dropDatabase();
  await mongo.close();
});

jobStoreContract('MongoDB', async () => {
  // A database of its own per case: positions and owners to dispatch are counted over all jobs.
  const database = `jobs_contract_${new ObjectId().toHexString()}`;
  databases.push(database);
  await ensureJobIndexes(mongo, database);
  return {
    store: mongoJobStore(mongo, { database, worker: { id: 'worker-a', leaseMs: 60_000 }, listCache: new JobListCache(1 << 20) }),
    other: mongoJobStore(mongo, { database, worker: { id: 'worker-b', leaseMs: 60_000 } }),
  };
});
