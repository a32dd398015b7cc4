import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources of the shared package, never a stale build of it.
    alias: [
      { find: /^@mp3converter\/shared\/amqp\/outcome-policy$/, replacement: `${root}packages/shared/src/amqp/outcome-policy.ts` },
      { find: /^@mp3converter\/web$/, replacement: `${root}packages/web/src/site.ts` },
      {
        find: /^@mp3converter\/shared\/contracts\/(mp3-formats|error-body|job-states|api-keys|api-key-schemas)$/,
        replacement: `${root}packages/shared/src/contracts/$1.ts`,
      },
      { find: /^@mp3converter\/shared\/(.+)$/, replacement: `${root}packages/shared/src/$1/index.ts` },
    ],
  },
  test: {
    // Integration tests share the fixed GridFS databases (videos, mp3s) and check them for leftovers, so
    // test files run one at a time; tests inside a file use unique users and queues.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/docs/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts', 'services/*/test/**/*.int.test.ts'],
          globalSetup: ['test/setup/servers.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'manifests',
          include: ['test/manifests/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          globalSetup: ['test/setup/system.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
