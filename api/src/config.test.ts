import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseEnv } from '@hero/core/lib/env';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema, loadApiConfig } from './config.ts';

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

  it('treats empty strings as unset', () => {
    expect(parseEnv(apiConfigSchema, { ...base, API_PORT: '' }).API_PORT).toBe(4000);
  });

  it('refuses both pool sources at once', () => {
    expect(problems({ ...base, VM_POOL_JSON: '[]', VM_POOL_FILE: '/x.json' }).join()).toMatch(/both set/);
  });
});
