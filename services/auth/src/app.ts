import { errorMiddleware, notFoundHandler } from '@mp3converter/shared/errors';
import { requestLogger } from '@mp3converter/shared/http';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, httpMetrics } from '@mp3converter/shared/metrics';
import express, { type Express } from 'express';
import type { ApiKeyService } from './domain/api-keys.js';
import type { AuthService } from './domain/auth.service.js';
import type { LoginThrottle } from './domain/login-throttle.js';
import type { LoginMetrics } from './metrics.js';
import { keysRouter } from './routes/keys.route.js';
import { loginRouter } from './routes/login.route.js';
import { validateRouter } from './routes/validate.route.js';

export interface AppDeps {
  auth: AuthService;
  keys: ApiKeyService;
  logger: Logger;
  isStoreReady: () => boolean;
  throttle: LoginThrottle;
  trustProxy: string;
  /** The app's registry: HTTP metrics go there; served by the probe server. */
  registry: Registry;
  logins: LoginMetrics;
}

export function createApp({ auth, keys, logger, isStoreReady, throttle, trustProxy, registry, logins }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  app.use(httpMetrics(registry));
  app.use(requestLogger(logger));
  app.use(loginRouter({ auth, isStoreReady, throttle, metrics: logins }));
  app.use(validateRouter(auth, keys));
  app.use(keysRouter({ auth, keys, isStoreReady }));
  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  return app;
}
