import type { TestProject } from 'vitest/node';

/**
 * Finds the servers the integration and end-to-end tests talk to. Addresses from the environment come first
 * (scripts/test.sh sets them after making sure each server answers); only where one is missing and a Docker
 * engine answers does a throwaway container stand in for it.
 */
export interface TestServers {
  mysqlUrl: string;
  mongoUrl: string;
  rabbitUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

type Stop = () => Promise<unknown>;

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Stop[] = [];
  const fromEnv = {
    mysqlUrl: process.env.TEST_MYSQL_URL,
    mongoUrl: process.env.TEST_MONGODB_URL,
    rabbitUrl: process.env.TEST_RABBITMQ_URL,
  };
  const missing = Object.entries(fromEnv)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0 && !(await dockerAnswers())) {
    throw new Error(
      `no test server for ${missing.join(', ')}: set TEST_MYSQL_URL, TEST_MONGODB_URL and TEST_RABBITMQ_URL ` +
        '(bash scripts/test.sh does) or start a Docker engine so testcontainers can provide them',
    );
  }
  const { GenericContainer, Wait } = await import('testcontainers');
  const servers: TestServers = {
    mysqlUrl:
      fromEnv.mysqlUrl ??
      (await (async () => {
        const c = await new GenericContainer('mariadb:11.4')
          .withEnvironment({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1' })
          .withExposedPorts(3306)
          .withWaitStrategy(Wait.forLogMessage(/ready for connections/, 2))
          .start();
        stops.push(() => c.stop());
        return `mysql://root:@${c.getHost()}:${c.getMappedPort(3306)}`;
      })()),
    mongoUrl:
      fromEnv.mongoUrl ??
      (await (async () => {
        const c = await new GenericContainer('mongo:7').withExposedPorts(27017).start();
        stops.push(() => c.stop());
        return `mongodb://${c.getHost()}:${c.getMappedPort(27017)}`;
      })()),
    rabbitUrl:
      fromEnv.rabbitUrl ??
      (await (async () => {
        const c = await new GenericContainer('rabbitmq:3-management')
          .withExposedPorts(5672)
          .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
          .start();
        stops.push(() => c.stop());
        return `amqp://guest:guest@${c.getHost()}:${c.getMappedPort(5672)}`;
      })()),
  };
  project.provide('servers', servers);
  return async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  };
}
