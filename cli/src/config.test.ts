import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@hero/core/lib/env';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCliConfig } from './config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hero-cli-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const problems = (env: Record<string, string | undefined>) => {
  try {
    loadCliConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('loadCliConfig', () => {
  it('applies the defaults', () => {
    expect(loadCliConfig({ ADMIN_SECRET: 's3cret' })).toEqual({
      HERO_API_URL: 'http://127.0.0.1:4000',
      HERO_API_TIMEOUT_MS: 60_000,
      ADMIN_SECRET: 's3cret',
    });
  });

  it('reads ADMIN_SECRET_FILE (trailing newline trimmed)', async () => {
    const file = path.join(dir, 'secret');
    await writeFile(file, 'from-a-file\n');
    expect(loadCliConfig({ ADMIN_SECRET_FILE: file }).ADMIN_SECRET).toBe('from-a-file');
    expect(problems({ ADMIN_SECRET: 'x', ADMIN_SECRET_FILE: file })).toEqual([
      'ADMIN_SECRET and ADMIN_SECRET_FILE are both set: use one of them',
    ]);
    expect(problems({ ADMIN_SECRET_FILE: path.join(dir, 'missing') })).toEqual([
      expect.stringMatching(/^ADMIN_SECRET_FILE: cannot read .*: ENOENT$/),
      'ADMIN_SECRET: required (set ADMIN_SECRET or ADMIN_SECRET_FILE)',
    ]);
  });

  it('lists every problem at once; empty values count as unset', () => {
    expect(problems({ ADMIN_SECRET: '', HERO_API_URL: 'localhost:4000', HERO_API_TIMEOUT_MS: '0' })).toEqual([
      'HERO_API_URL: must be an http(s) URL',
      'HERO_API_TIMEOUT_MS: must be positive',
      'ADMIN_SECRET: required (set ADMIN_SECRET or ADMIN_SECRET_FILE)',
    ]);
  });
});
