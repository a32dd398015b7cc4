import { errorMiddleware, notFoundHandler } from '@mp3converter/shared/errors';
import { requestLogger } from '@mp3converter/shared/http';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, httpMetrics } from '@mp3converter/shared/metrics';
import express, { type Express } from 'express';
import type { AuthService } from './domain/auth.service.js';
import type { LoginThrottle } from './domain/login-throttle.js';
import type { LoginMetrics } from './metrics.js';
import { loginRouter } from './routes/login.route.js';
import { validateRouter } from './routes/validate.route.js';

export interface AppDeps {
  auth: AuthService;
  logger: Logger;
  isStoreReady: () => boolean;
  throttle: LoginThrottle;
  trustProxy: string;
  /** The app's registry: HTTP metrics go there; served by the probe server. */
  registry: Registry;
  logins: LoginMetrics;
}

export function createApp({ auth, logger, isStoreReady, throttle, trustProxy, registry, logins }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  app.use(httpMetrics(registry));
  app.use(requestLogger(logger));
  app.use(loginRouter({ auth, isStoreReady, throttle, metrics: logins }));
  app.use(validateRouter(auth));
  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  return app;
}
