import { describe, expect, it } from 'vitest';
import { sendsInClear } from './login.js';

describe('where a password may go', () => {
  it('when the gateway is https, or plain http on this machine, then the password may be sent', () => {
    for (const gateway of [
      'https://mp3converter.com',
      'https://10.0.0.5:8443',
      'http://127.0.0.1:8080',
      'http://127.8.9.10',
      'http://localhost:8080',
      'http://app.localhost',
      'http://[::1]:8080',
    ]) {
      expect(sendsInClear(gateway), gateway).toBe(false);
    }
  });

  it('when the gateway is plain http anywhere else, then it would go in clear', () => {
    for (const gateway of [
      'http://mp3converter.com',
      'http://192.0.2.2:8080',
      'http://[fd00::2]:8080',
      'http://127.0.0.1.example.com',
      'http://localhost.example.com',
    ]) {
      expect(sendsInClear(gateway), gateway).toBe(true);
    }
  });
});
