import { describe, expect, it } from 'vitest';
import { printable, transportError } from './errors.ts';

describe('transportError', () => {
  const url = 'http://api.test:4000';
  const reason = (err: unknown) => transportError(url, err, 1_500).message;

  it('names the usual network failures', () => {
    const sys = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(reason(sys('ECONNREFUSED'))).toBe(
      'cannot reach the API at http://api.test:4000: connection refused (is the api running?)',
    );
    expect(reason(sys('ENOTFOUND'))).toMatch(/: host not found \(DNS\)$/);
    expect(reason(sys('EAI_AGAIN'))).toMatch(/DNS lookup failed/);
    expect(reason(sys('UND_ERR_CONNECT_TIMEOUT'))).toMatch(
      /no answer within 1500 ms \(HERO_API_TIMEOUT_MS\)$/,
    );
    expect(reason(sys('UND_ERR_HEADERS_TIMEOUT'))).toMatch(/no answer within 1500 ms/);
    expect(reason(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toMatch(
      /no answer within 1500 ms/,
    );
    expect(reason(sys('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'))).toMatch(
      /: TLS: self-signed certificate$/,
    );
    expect(reason(sys('EWEIRD', 'something odd'))).toMatch(/: EWEIRD: something odd$/);
  });

  it('reads the code of an AggregateError (several addresses tried)', () => {
    const agg = Object.assign(
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
      {},
    );
    expect(reason(agg)).toMatch(/connection refused/);
  });

  it('is one line for exit code 1', () => {
    const err = transportError(url, new Error('line one\nline two'), 1);
    expect(err.message).not.toContain('\n');
    expect(err.exitCode).toBe(1);
  });
});

describe('printable', () => {
  it('escapes control characters and flattens line breaks', () => {
    expect(printable('a\tb\nc\u0007d\u009be')).toBe('a b c\\x07d\\x9be');
  });
});
