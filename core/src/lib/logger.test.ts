import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from './logger.ts';

describe('logger redaction', () => {
  it('never writes secrets, tokens or auth headers', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    log.info(
      {
        ADMIN_SECRET: 'admin-secret-value',
        token: 'hero_token_value',
        user: { password: 'pw-value', token: 'nested-token' },
        req: { headers: { authorization: 'Bearer hero_abc', 'x-admin-secret': 'hdr-secret' } },
        keep: 'visible',
      },
      'request',
    );
    const out = lines.join('');
    for (const secret of [
      'admin-secret-value',
      'hero_token_value',
      'pw-value',
      'nested-token',
      'hero_abc',
      'hdr-secret',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('visible');
    expect(out).toContain('[redacted]');
  });
});
