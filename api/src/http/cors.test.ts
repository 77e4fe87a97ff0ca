import { parseEnv } from '@hero/core/lib/env';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../config.ts';
import { corsOption, normalizeOrigin } from './cors.ts';

describe('normalizeOrigin', () => {
  it('gives the form browsers send in Origin', () => {
    expect(normalizeOrigin('https://Admin.Example.org')).toBe('https://admin.example.org');
    expect(normalizeOrigin(' https://admin.example.org:443/ ')).toBe('https://admin.example.org');
    expect(normalizeOrigin('http://localhost:5173')).toBe('http://localhost:5173');
  });

  it('refuses what would never match an Origin, or match too much', () => {
    for (const bad of [
      '*',
      'null',
      'admin.example.org',
      'https://a.example.org/app',
      'https://a.example.org?x',
      'https://u:p@a.example.org',
      'ftp://a.example.org',
      'file:///tmp',
    ])
      expect(normalizeOrigin(bad), bad).toBeNull();
  });
});

describe('API_CORS_ORIGINS', () => {
  const base = { DATABASE_URL: 'postgres://localhost/db', ADMIN_SECRET: 'a-long-enough-admin-secret' };

  it('is none by default, and a list of normalized origins when set', () => {
    expect(parseEnv(apiConfigSchema, base).API_CORS_ORIGINS).toEqual([]);
    expect(
      parseEnv(apiConfigSchema, {
        ...base,
        API_CORS_ORIGINS: 'https://Admin.example.org/, http://localhost:5173,,https://admin.example.org',
      }).API_CORS_ORIGINS,
    ).toEqual(['https://admin.example.org', 'http://localhost:5173']);
  });

  it('refuses a wildcard or a URL with a path, naming it', () => {
    expect(() => parseEnv(apiConfigSchema, { ...base, API_CORS_ORIGINS: '*' })).toThrow(
      /API_CORS_ORIGINS.*\*/s,
    );
    expect(() =>
      parseEnv(apiConfigSchema, { ...base, API_CORS_ORIGINS: 'https://a.example.org/app' }),
    ).toThrow(/https:\/\/a\.example\.org\/app/);
  });
});

describe('corsOption', () => {
  const request = (origin?: string) =>
    new Request('http://api.test/graphql', { headers: origin ? { origin } : {} });

  it('is off without origins, and answers only a configured origin, with itself and no credentials', () => {
    expect(corsOption([])).toBe(false);
    const option = corsOption(['https://admin.example.org']);
    if (option === false) throw new Error('expected a factory');
    expect(option(request('https://evil.example.org'))).toBe(false);
    expect(option(request())).toBe(false);
    expect(option(request('https://admin.example.org'))).toMatchObject({
      origin: ['https://admin.example.org'],
      credentials: false,
    });
  });
});
