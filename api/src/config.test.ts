import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseEnv } from '@hero/core/lib/env';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema, loadApiConfig, signupVerifyEmail } from './config.ts';

const base = { DATABASE_URL: 'postgres://u@localhost/db', ADMIN_SECRET: 'x'.repeat(20) };

function problems(env: Record<string, string>): string[] {
  try {
    loadApiConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('api configuration', () => {
  it('takes OIDC_ISSUER_URL and OIDC_CLIENT_ID together', () => {
    expect(problems({ ...base, OIDC_ISSUER_URL: 'https://forge.example.com/' }).join('\n')).toContain(
      'OIDC_ISSUER_URL and OIDC_CLIENT_ID go together',
    );
    expect(problems({ ...base, OIDC_CLIENT_ID: 'hero' }).join('\n')).toContain('go together');
    expect(
      loadApiConfig({ ...base, OIDC_ISSUER_URL: 'https://forge.example.com/', OIDC_CLIENT_ID: 'hero' }),
    ).toMatchObject({ OIDC_ISSUER_URL: 'https://forge.example.com/', OIDC_CLIENT_ID: 'hero' });
  });

  it('reads OIDC_ROLE_MAP as claim values to roles, with OIDC_ROLE_CLAIM', () => {
    const oidc = { ...base, OIDC_ISSUER_URL: 'https://forge.example.com/', OIDC_CLIENT_ID: 'hero' };
    expect(
      loadApiConfig({
        ...oidc,
        OIDC_ROLE_CLAIM: 'groups',
        OIDC_ROLE_MAP: '{"hero-admins":"owner","ops":"viewer"}',
      }),
    ).toMatchObject({ OIDC_ROLE_CLAIM: 'groups', OIDC_ROLE_MAP: { 'hero-admins': 'owner', ops: 'viewer' } });
    expect(
      problems({ ...oidc, OIDC_ROLE_CLAIM: 'groups', OIDC_ROLE_MAP: '{"x":"king"}' }).join('\n'),
    ).toContain('must map claim values to roles');
    expect(problems({ ...oidc, OIDC_ROLE_CLAIM: 'groups', OIDC_ROLE_MAP: 'not json' }).join('\n')).toContain(
      'must be a JSON object',
    );
    expect(problems({ ...oidc, OIDC_ROLE_CLAIM: 'groups' }).join('\n')).toContain(
      'OIDC_ROLE_CLAIM and OIDC_ROLE_MAP go together',
    );
  });

  it('applies defaults', () => {
    const config = loadApiConfig(base);
    expect(config).toMatchObject({
      API_PORT: 4000,
      SIGNUP_TRIAL: null,
      PROVISIONER_DEMO: false,
    });
  });

  it('reports every problem at once', () => {
    const list = problems({
      DATABASE_URL: 'http://x',
      ADMIN_SECRET: 'short',
      API_PORT: '-1',
      PROVISIONER_DEMO: 'maybe',
    });
    expect(list).toHaveLength(4);
    expect(list.join('\n')).toMatch(/DATABASE_URL/);
    expect(list.join('\n')).toMatch(/ADMIN_SECRET: must be at least 16/);
  });

  it('reads NAME_FILE secrets, and refuses .. paths and both forms at once', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hero-env-'));
    const file = path.join(dir, 'secret');
    writeFileSync(file, 'from-a-file-and-long-enough\n');
    expect(loadApiConfig({ DATABASE_URL: base.DATABASE_URL, ADMIN_SECRET_FILE: file }).ADMIN_SECRET).toBe(
      'from-a-file-and-long-enough',
    );
    expect(problems({ ...base, ADMIN_SECRET_FILE: file }).join()).toMatch(/both set/);
    expect(problems({ DATABASE_URL: base.DATABASE_URL, ADMIN_SECRET_FILE: `${dir}/../x` }).join()).toMatch(
      /'\.\.' is refused/,
    );
    expect(problems({ DATABASE_URL: base.DATABASE_URL, ADMIN_SECRET_FILE: `${dir}/missing` }).join()).toMatch(
      /ENOENT/,
    );
  });

  it('reads SIGNUP_TRIAL as people write it, and says the format when it cannot', () => {
    expect(loadApiConfig({ ...base, SIGNUP_TRIAL: '2 VMs for 7d' }).SIGNUP_TRIAL).toEqual({
      vmQuota: 2,
      hours: 168,
    });
    expect(loadApiConfig({ ...base, SIGNUP_TRIAL: 'off' }).SIGNUP_TRIAL).toBeNull();
    expect(problems({ ...base, SIGNUP_TRIAL: 'a week' })).toEqual([
      expect.stringMatching(/^SIGNUP_TRIAL: must read "<n> VM for <hours>h"/),
    ]);
  });

  it('SIGNUP_MODE is open by default, takes invite and closed, and refuses anything else', () => {
    expect(loadApiConfig(base).SIGNUP_MODE).toBe('open');
    expect(loadApiConfig({ ...base, SIGNUP_MODE: 'invite' }).SIGNUP_MODE).toBe('invite');
    expect(loadApiConfig({ ...base, SIGNUP_MODE: 'closed' }).SIGNUP_MODE).toBe('closed');
    expect(problems({ ...base, SIGNUP_MODE: 'nobody' })).toEqual([expect.stringMatching(/^SIGNUP_MODE: /)]);
  });

  it('SIGNUP_VERIFY_EMAIL is on in production unless set, off elsewhere unless set', () => {
    const verify = (env: Record<string, string>) => signupVerifyEmail(loadApiConfig({ ...base, ...env }));
    expect(verify({})).toBe(false);
    expect(verify({ NODE_ENV: 'production' })).toBe(true);
    expect(verify({ NODE_ENV: 'production', SIGNUP_VERIFY_EMAIL: '0' })).toBe(false);
    expect(verify({ SIGNUP_VERIFY_EMAIL: '1' })).toBe(true);
    expect(problems({ ...base, SIGNUP_VERIFY_EMAIL: 'maybe' })).toEqual([
      expect.stringMatching(/^SIGNUP_VERIFY_EMAIL: /),
    ]);
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv(apiConfigSchema, { ...base, API_PORT: '' }).API_PORT).toBe(4000);
  });

  it('refuses both pool sources at once', () => {
    expect(problems({ ...base, VM_POOL_JSON: '[]', VM_POOL_FILE: '/x.json' }).join()).toMatch(/both set/);
  });

  describe('self-serve top-up (Stripe Checkout)', () => {
    it('is off by default, with the default bounds and presets', () => {
      const config = loadApiConfig(base);
      expect(config.STRIPE_SECRET_KEY).toBeUndefined();
      expect(config).toMatchObject({
        TOPUP_MIN_CENTS: 500,
        TOPUP_MAX_CENTS: 100_000,
        TOPUP_PRESETS_CENTS: [1_000, 3_000, 5_000, 10_000],
      });
    });

    it('takes the key from a file; WEB_PUBLIC_URL loses its trailing slash and defaults to the local web UI', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'stripe-key-'));
      const file = path.join(dir, 'key');
      writeFileSync(file, 'sk_test_abc123\n');
      const config = loadApiConfig({
        ...base,
        STRIPE_SECRET_KEY_FILE: file,
        WEB_PUBLIC_URL: 'https://hero.example.com/',
        STRIPE_API_URL: 'http://127.0.0.1:12111',
      });
      expect(config).toMatchObject({
        STRIPE_SECRET_KEY: 'sk_test_abc123',
        WEB_PUBLIC_URL: 'https://hero.example.com',
        STRIPE_API_URL: 'http://127.0.0.1:12111',
      });
      expect(loadApiConfig({ ...base, STRIPE_SECRET_KEY: 'sk_test_abc123' }).WEB_PUBLIC_URL).toBe(
        'http://localhost:3000',
      );
      expect(problems({ ...base, STRIPE_SECRET_KEY: 'pk_test_publishable' }).join('\n')).toMatch(
        /STRIPE_SECRET_KEY: must be a Stripe secret or restricted key/,
      );
    });

    it('refuses bounds the wrong way round and presets outside them', () => {
      const list = problems({
        ...base,
        TOPUP_MIN_CENTS: '2000',
        TOPUP_MAX_CENTS: '1000',
        TOPUP_PRESETS_CENTS: '1500',
      }).join('\n');
      expect(list).toMatch(/TOPUP_MIN_CENTS is above TOPUP_MAX_CENTS/);
      expect(list).toMatch(/preset 1500 is not whole cents within/);
      expect(problems({ ...base, TOPUP_PRESETS_CENTS: '1500,abc' }).join('\n')).toMatch(
        /TOPUP_PRESETS_CENTS: not a whole number of cents: abc/,
      );
      expect(
        loadApiConfig({ ...base, TOPUP_PRESETS_CENTS: ' 3000, 1000 ,3000' }).TOPUP_PRESETS_CENTS,
      ).toEqual([1_000, 3_000]);
    });
  });
});
