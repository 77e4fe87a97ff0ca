import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWebConfig, WebConfigError } from './config.ts';

describe('parseWebConfig', () => {
  it('takes the OIDC client together, its secret also from a file', () => {
    const issuer = { OIDC_ISSUER_URL: 'https://forge.example.com/' };
    expect(() => parseWebConfig(issuer)).toThrow(/OIDC_CLIENT_ID: required with OIDC_ISSUER_URL/);
    expect(() => parseWebConfig({ ...issuer, OIDC_CLIENT_ID: 'hero' })).toThrow(
      /OIDC_CLIENT_SECRET: required with OIDC_ISSUER_URL/,
    );
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'web-oidc-')), 'secret');
    writeFileSync(file, 'from-the-file\n');
    const config = parseWebConfig({ ...issuer, OIDC_CLIENT_ID: 'hero', OIDC_CLIENT_SECRET_FILE: file });
    expect(config).toMatchObject({
      OIDC_CLIENT_SECRET: 'from-the-file',
      OIDC_LABEL: 'Sign in with the forge',
    });
    expect(() => parseWebConfig({ OIDC_CLIENT_SECRET: 'a', OIDC_CLIENT_SECRET_FILE: file })).toThrow(
      /set one of them/,
    );
    expect(parseWebConfig({}).OIDC_ISSUER_URL).toBeUndefined();
  });

  it('has defaults for a local run', () => {
    const config = parseWebConfig({});
    expect(config.HERO_API_URL).toBe('http://127.0.0.1:4000');
    expect(config.WEB_PORT).toBe(3000);
    expect(config.WEB_ORIGIN).toBeUndefined();
  });

  it('normalises the api URL and the origin', () => {
    const config = parseWebConfig({
      HERO_API_URL: 'http://api:4000/',
      WEB_ORIGIN: 'https://hero.example.com/',
    });
    expect(config.HERO_API_URL).toBe('http://api:4000');
    expect(config.WEB_ORIGIN).toBe('https://hero.example.com');
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      parseWebConfig({
        HERO_API_URL: 'ftp://x',
        WEB_PORT: 'eighty',
        WEB_ORIGIN: 'https://hero.example.com/app',
        WEB_BODY_SIZE_LIMIT: 'lots',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(WebConfigError);
    const problems = (error as WebConfigError).problems.join('\n');
    expect(problems).toMatch(/HERO_API_URL: must be an http\(s\) URL/);
    expect(problems).toMatch(/WEB_PORT: must be a port number/);
    expect(problems).toMatch(/WEB_ORIGIN: must be an origin, without a path/);
    expect(problems).toMatch(/WEB_BODY_SIZE_LIMIT/);
  });
});
