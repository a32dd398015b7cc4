import type { Response } from 'express';
import type { AuthAnswer } from '../domain/ports.js';

/** Sends auth's answer on as it came: status, type, body, Retry-After; never kept by a cache on the way. */
export function passAuthAnswer(res: Response, answer: AuthAnswer): void {
  if (answer.contentType) res.type(answer.contentType);
  res.set('Cache-Control', 'no-store');
  if (answer.retryAfter) res.set('Retry-After', answer.retryAfter);
  res.status(answer.status).send(answer.body);
}
