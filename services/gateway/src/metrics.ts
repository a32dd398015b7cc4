import { Counter, Histogram, LONG_BUCKETS, type Registry } from '@mp3converter/shared/metrics';
import type { UploadKind, UploadMetrics } from './domain/ports.js';

const KINDS: readonly UploadKind[] = ['multipart', 'resumable'];

/**
 * `gateway_uploads_total{kind}`, `gateway_upload_bytes_total{kind}` and `gateway_upload_duration_seconds{kind}`
 * of uploads stored and handed on as jobs: multipart from the request's start, resumable from its creation
 * (its pauses included).
 */
export function uploadMetrics(registry: Registry): UploadMetrics {
  const labelNames = ['kind'] as const;
  const uploads = new Counter({ name: 'gateway_uploads_total', help: 'Uploads stored and handed on as jobs', labelNames, registers: [registry] });
  const bytes = new Counter({ name: 'gateway_upload_bytes_total', help: 'Bytes of the uploads stored', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'gateway_upload_duration_seconds',
    help: 'Time an upload took, from its request (multipart) or its creation (resumable) to its job, in seconds',
    labelNames,
    buckets: LONG_BUCKETS,
    registers: [registry],
  });
  for (const kind of KINDS) {
    uploads.inc({ kind }, 0);
    bytes.inc({ kind }, 0);
  }
  return {
    uploaded(kind, sizeBytes, seconds) {
      uploads.inc({ kind });
      bytes.inc({ kind }, sizeBytes);
      duration.observe({ kind }, Math.max(0, seconds));
    },
  };
}
