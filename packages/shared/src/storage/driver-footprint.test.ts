import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MongoClient } from './index.js';

const run = promisify(execFile);
const here = fileURLToPath(new URL('../..', import.meta.url));

// Two patches of ours (patches/ at the repository root) keep the driver's largest tables out of every
// service's memory: the SASLprep code point sets load with the first SCRAM-SHA-256 login, and connection
// strings are parsed by Node's own WHATWG URL instead of the whatwg-url package and its IDNA tables.
describe('the MongoDB driver as the services load it', () => {
  it('when the driver is loaded and a client made, then neither saslprep nor whatwg-url is loaded', async () => {
    const probe = [
      "import { MongoClient } from 'mongodb';",
      "import { createRequire } from 'node:module';",
      "new MongoClient('mongodb://user:secret@127.0.0.1:27017/db?authMechanism=SCRAM-SHA-256');",
      'const loaded = Object.keys(createRequire(import.meta.url).cache);',
      "console.log(JSON.stringify(['@mongodb-js/saslprep', 'whatwg-url', 'tr46'].filter((p) => loaded.some((f) => f.includes('/node_modules/' + p + '/')))));",
      "console.log(loaded.some((f) => f.includes('/node_modules/mongodb/')));",
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: here });
    expect(stdout.trim().split('\n')).toEqual(['[]', 'true']);
  });

  it('when connection strings carry escapes, several hosts and options, then they parse as the driver documents', () => {
    const client = new MongoClient('mongodb://us%40er:p%3Ass%2Fw@db-0.example:27017,db-1.example:27018/videos?replicaSet=rs0&authSource=admin&appName=gw');
    expect(client.options.hosts.map(String)).toEqual(['db-0.example:27017', 'db-1.example:27018']);
    expect(client.options.credentials).toMatchObject({ username: 'us@er', password: 'p:ss/w', source: 'admin' });
    expect(client.options).toMatchObject({ replicaSet: 'rs0', appName: 'gw', dbName: 'videos' });
    expect(() => new MongoClient('mongodb://user:pa:ss@host/')).toThrow(/unescaped/);
    expect(() => new MongoClient('http://host/')).toThrow(/Invalid scheme/);
  });
});
