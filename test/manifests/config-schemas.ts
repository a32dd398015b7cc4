import { authConfigSchema } from '../../services/auth/src/config.js';
import { converterConfigSchema } from '../../services/converter/src/config.js';
import { gatewayConfigSchema } from '../../services/gateway/src/config.js';
import { notificationConfigSchema } from '../../services/notification/src/config.js';
import { webhooksConfigSchema } from '../../services/webhooks/src/config.js';

/** Each service's config schema, by the service's name: what its ConfigMap, Secret and compose entry must satisfy. */
export const SERVICE_CONFIGS = {
  auth: authConfigSchema,
  gateway: gatewayConfigSchema,
  converter: converterConfigSchema,
  notification: notificationConfigSchema,
  webhooks: webhooksConfigSchema,
} as const;
