import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '@mp3converter/shared/http';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, createRegistry, storeReconnects } from '@mp3converter/shared/metrics';
import { MysqlAttemptCounter } from './adapters/mysql.attempt-counter.js';
import { onReconnect, ping } from './adapters/mysql.js';
import { createApp } from './app.js';
import { DatabaseBootstrap } from './bootstrap.js';
import type { AuthConfig } from './config.js';
import { LoginThrottle } from './domain/login-throttle.js';
import { loginMetrics } from './metrics.js';
import { openAuthStore } from './store.js';

export interface AuthServer {
  http: HttpServerHandle;
  /** /healthz, /readyz and /metrics, on their own port: never reachable through the public API. */
  health: HttpServerHandle;
  registry: Registry;
  readiness: Readiness;
  bootstrap: DatabaseBootstrap;
  /** Stops intake, lets requests finish, closes MySQL. */
  stop(): Promise<void>;
}

/** Wires the auth service from its config; used by main.ts and by the tests, which pass port 0. */
export async function startAuthServer(config: AuthConfig, logger: Logger): Promise<AuthServer> {
  const store = openAuthStore(config, logger);
  const { auth, keys, pool } = store;
  const registry = createRegistry();
  onReconnect(pool, storeReconnects(registry, 'mysql'));
  const windowMs = config.LOGIN_RATE_WINDOW_SECONDS * 1000;
  const attempts = new MysqlAttemptCounter(pool, config.MYSQL_TIMEOUT_MS);
  const throttle = new LoginThrottle(attempts, { perAccount: config.LOGIN_RATE_LIMIT, perAddress: config.LOGIN_ADDRESS_RATE_LIMIT, windowMs });
  // Counts older than their window only take room; any replica may remove them.
  const pruning = setInterval(
    () => {
      if (bootstrap.ready) attempts.prune(windowMs).catch((err: unknown) => logger.warn({ err }, 'expired login counts not pruned'));
    },
    Math.max(windowMs, 60_000),
  );
  pruning.unref();

  const bootstrap = new DatabaseBootstrap(
    async () => {
      await store.prepare();
      if (config.SEED_USER_EMAIL && config.SEED_USER_PASSWORD) {
        const created = await auth.addUser(config.SEED_USER_EMAIL, config.SEED_USER_PASSWORD, config.SEED_USER_ADMIN);
        logger.info({ email: config.SEED_USER_EMAIL, created }, created ? 'seed user created' : 'seed user already exists');
      }
    },
    logger.child({ component: 'bootstrap' }),
  );
  void bootstrap.start();

  const readiness = new Readiness().add('mysql', async () => {
    if (!bootstrap.ready) throw new Error('database not set up yet');
    await ping(pool, config.MYSQL_TIMEOUT_MS);
  });

  const app = createApp({
    auth,
    keys,
    logger,
    isStoreReady: () => bootstrap.ready,
    throttle,
    trustProxy: config.TRUST_PROXY,
    registry,
    logins: loginMetrics(registry),
  });
  const http = await startHttpServer(app, config.PORT, { host: config.HOST, requestTimeoutMs: 30_000 });
  const health = await startHttpServer(probeApp(readiness, registry), config.HEALTH_PORT, { host: config.HOST });
  logger.info({ port: http.port, healthPort: health.port }, 'auth listening');

  return {
    http,
    health,
    registry,
    readiness,
    bootstrap,
    async stop() {
      readiness.markShuttingDown();
      bootstrap.stop();
      clearInterval(pruning);
      await http.close();
      await store.close();
      await health.close();
    },
  };
}
