import { Counter, Histogram, LONG_BUCKETS, type Registry } from '@mp3converter/shared/metrics';
import type { ConversionMetrics, FailureReason } from './domain/ports.js';

const REASONS: readonly FailureReason[] = ['unconvertible', 'timeout', 'transient', 'gave_up', 'invalid_message', 'owner_mismatch'];

/** Times faster than real time, from a slow machine to a short clip on a fast one. */
const REALTIME_BUCKETS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export interface ConverterMetrics extends ConversionMetrics {
  /** A first delivery was taken from the queue `seconds` after it was published. */
  waited(seconds: number): void;
}

/**
 * `converter_queue_wait_seconds`, `converter_conversion_seconds`, `converter_conversion_realtime_ratio`,
 * `converter_failures_total{reason}` and `converter_video_read_bytes_total{how}`.
 */
export function converterMetrics(registry: Registry): ConverterMetrics {
  const wait = new Histogram({
    name: 'converter_queue_wait_seconds',
    help: 'Time a conversion message spent in the queue, from its publishing to its first delivery, in seconds',
    buckets: LONG_BUCKETS,
    registers: [registry],
  });
  const conversion = new Histogram({
    name: 'converter_conversion_seconds',
    help: 'Time a job took from its claim to done (copy, probe, encode, store), in seconds',
    buckets: LONG_BUCKETS,
    registers: [registry],
  });
  const realtime = new Histogram({
    name: 'converter_conversion_realtime_ratio',
    help: 'Seconds of audio encoded per second of encoding (× real time)',
    buckets: REALTIME_BUCKETS,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'converter_failures_total',
    help: 'Failed conversion attempts by reason; gave_up counts the jobs given up on after their attempts',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of REASONS) failures.inc({ reason }, 0);
  const read = new Counter({
    name: 'converter_video_read_bytes_total',
    help: 'Bytes of videos read out of the store: served to ffmpeg by ranges (a job that seeks), or copied whole',
    labelNames: ['how'],
    registers: [registry],
  });
  for (const how of ['served', 'copied']) read.inc({ how }, 0);
  return {
    waited: (seconds) => wait.observe(Math.max(0, seconds)),
    converted(seconds, encoded) {
      conversion.observe(seconds);
      if (encoded && encoded.encodeSeconds > 0) realtime.observe(encoded.mediaSeconds / encoded.encodeSeconds);
    },
    failed: (reason) => failures.inc({ reason }),
    videoRead({ served, copied }) {
      read.inc({ how: 'served' }, served);
      read.inc({ how: 'copied' }, copied);
    },
  };
}
