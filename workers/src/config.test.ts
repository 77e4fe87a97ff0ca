import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@hero/core/lib/env';
import { describe, expect, it } from 'vitest';
import { cronProblem, loadWorkerConfig, tickTiming } from './config.ts';

const DATABASE_URL = 'postgres://u:p@127.0.0.1:5432/hero';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadWorkerConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('worker config', () => {
  it('has defaults for everything but DATABASE_URL', () => {
    expect(loadWorkerConfig({ DATABASE_URL })).toEqual({
      DATABASE_URL,
      LOG_LEVEL: 'info',
      DB_POOL_MAX: 5,
      DB_CONNECT_TIMEOUT_MS: 120_000,
      WORKER_HEALTH_HOST: '0.0.0.0',
      WORKER_SHUTDOWN_TIMEOUT_MS: 30_000,
      DEPLOYER_TIMEOUT_MS: 10_000,
      OUTBOX_INTERVAL_MS: 5_000,
      OUTBOX_BATCH_SIZE: 100,
      OUTBOX_MAX_ATTEMPTS: 10,
      OUTBOX_RETRY_BASE_MS: 2_000,
      OUTBOX_RETRY_MAX_MS: 900_000,
      NOTIFY_TIMEOUT_MS: 10_000,
      MAIL_FROM: 'hero-onboarding <noreply@localhost>',
      MAIL_TIMEOUT_MS: 10_000,
      WEB_PUBLIC_URL: 'http://localhost:3000',
      AUTO_RELEASE_INTERVAL_MS: 3_600_000,
      AUTO_RELEASE_BATCH_SIZE: 500,
      EXPIRY_WARNING_HOURS: 72,
      LOW_BALANCE_RUNWAY_DAYS: 3,
      LOW_BALANCE_CENTS: 200,
      NEGATIVE_BALANCE_GRACE_HOURS: 72,
      DEFAULT_CURRENCY: 'EUR',
      AGGREGATE_INTERVAL_MS: 300_000,
      AGGREGATE_BATCH_SIZE: 50_000,
      RECONCILE_INTERVAL_MS: 86_400_000,
      AUDIT_RETENTION_DAYS: 365,
      BILLING_BRANCH: 'main',
      USAGE_GIT_CACHE_DIR: '.data/usage-git-cache',
      FORGE_TIMEOUT_MS: 30_000,
      FORGE_RETRIES: 3,
      FORGE_RETRY_BASE_MS: 500,
      FORGE_CONCURRENCY: 4,
    });
  });

  it('reads the plan catalog settings auto-renew prices with (one source at most)', () => {
    expect(
      loadWorkerConfig({ DATABASE_URL, PLANS_FILE: 'examples/plans.json', DEFAULT_CURRENCY: 'chf' }),
    ).toMatchObject({
      PLANS_FILE: 'examples/plans.json',
      DEFAULT_CURRENCY: 'CHF',
    });
    expect(() =>
      loadWorkerConfig({ DATABASE_URL, PLANS_JSON: '[]', PLANS_FILE: 'examples/plans.json' }),
    ).toThrow(
      expect.objectContaining({
        problems: ['PLANS_JSON: PLANS_JSON and PLANS_FILE are both set: use one of them'],
      }),
    );
  });

  it('reads the usage source, listing what the chosen one is missing', () => {
    expect(loadWorkerConfig({ DATABASE_URL, BILLING_GIT_URL: '/srv/billing.git' })).toMatchObject({
      BILLING_GIT_URL: '/srv/billing.git',
      BILLING_BRANCH: 'main',
    });
    expect(() => loadWorkerConfig({ DATABASE_URL, USAGE_SOURCE: 'forge', FORGE_URL: 'ftp://x' })).toThrow(
      expect.objectContaining({
        problems: [
          'FORGE_URL: must be an http(s) URL',
          'FORGE_TOKEN: required with USAGE_SOURCE=forge',
          'BILLING_REPO: required with USAGE_SOURCE=forge',
        ],
      }),
    );
    expect(() => loadWorkerConfig({ DATABASE_URL, USAGE_SOURCE: 'forge' })).toThrow(
      expect.objectContaining({
        problems: [
          'FORGE_URL: required with USAGE_SOURCE=forge',
          'FORGE_TOKEN: required with USAGE_SOURCE=forge',
          'BILLING_REPO: required with USAGE_SOURCE=forge',
        ],
      }),
    );
    expect(() => loadWorkerConfig({ DATABASE_URL, USAGE_SOURCE: 'git', AGGREGATE_INTERVAL_MS: '0' })).toThrow(
      expect.objectContaining({
        problems: [
          'AGGREGATE_INTERVAL_MS: Too small: expected number to be >0',
          'BILLING_GIT_URL: required with USAGE_SOURCE=git',
        ],
      }),
    );
  });

  it('reads the auto-release and notification settings, refusing bad ones', () => {
    expect(
      loadWorkerConfig({
        DATABASE_URL,
        AUTO_RELEASE_INTERVAL_MS: '500',
        AUTO_RELEASE_BATCH_SIZE: '50',
        EXPIRY_WARNING_HOURS: '0',
        NOTIFY_WEBHOOK_URL: 'https://hooks.example/expiring',
        NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      }),
    ).toMatchObject({
      AUTO_RELEASE_INTERVAL_MS: 500,
      AUTO_RELEASE_BATCH_SIZE: 50,
      EXPIRY_WARNING_HOURS: 0,
      NOTIFY_WEBHOOK_URL: 'https://hooks.example/expiring',
    });
    expect(
      problemsOf({
        DATABASE_URL,
        AUTO_RELEASE_INTERVAL_MS: 'hourly',
        AUTO_RELEASE_BATCH_SIZE: '0',
        EXPIRY_WARNING_HOURS: '-1',
        NOTIFY_WEBHOOK_URL: 'mailto:ops@example.org',
      }),
    ).toEqual([
      expect.stringMatching(/^NOTIFY_WEBHOOK_URL: must be an http\(s\) URL/),
      expect.stringMatching(/^AUTO_RELEASE_INTERVAL_MS: /),
      expect.stringMatching(/^AUTO_RELEASE_BATCH_SIZE: /),
      expect.stringMatching(/^EXPIRY_WARNING_HOURS: /),
    ]);
  });

  it('signs notifications: a webhook needs a whsec_ secret', () => {
    expect(problemsOf({ DATABASE_URL, NOTIFY_WEBHOOK_URL: 'https://hooks.example/h' })).toEqual([
      'NOTIFY_WEBHOOK_SECRET: required when NOTIFY_WEBHOOK_URL is set: events are signed with it',
    ]);
    expect(
      problemsOf({
        DATABASE_URL,
        NOTIFY_WEBHOOK_URL: 'https://hooks.example/h',
        NOTIFY_WEBHOOK_SECRET: 'hunter2',
      }),
    ).toEqual([expect.stringMatching(/^NOTIFY_WEBHOOK_SECRET: must start with "whsec_"/)]);
    expect(
      loadWorkerConfig({ DATABASE_URL, NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET }).NOTIFY_WEBHOOK_SECRET,
    ).toBe(WEBHOOK_SECRET);
  });

  it('reads the credit policy: fractions of a day and grace 0 (never) accepted, negatives refused', () => {
    expect(
      loadWorkerConfig({
        DATABASE_URL,
        LOW_BALANCE_RUNWAY_DAYS: '0.5',
        LOW_BALANCE_CENTS: '0',
        NEGATIVE_BALANCE_GRACE_HOURS: '0',
      }),
    ).toMatchObject({ LOW_BALANCE_RUNWAY_DAYS: 0.5, LOW_BALANCE_CENTS: 0, NEGATIVE_BALANCE_GRACE_HOURS: 0 });
    expect(
      problemsOf({
        DATABASE_URL,
        LOW_BALANCE_RUNWAY_DAYS: '-1',
        LOW_BALANCE_CENTS: '1.5',
        NEGATIVE_BALANCE_GRACE_HOURS: 'never',
      }),
    ).toEqual([
      expect.stringMatching(/^LOW_BALANCE_RUNWAY_DAYS: /),
      expect.stringMatching(/^LOW_BALANCE_CENTS: /),
      expect.stringMatching(/^NEGATIVE_BALANCE_GRACE_HOURS: /),
    ]);
  });

  it('times each worker by its interval by default, or by a cron schedule instead', () => {
    const defaults = loadWorkerConfig({ DATABASE_URL });
    expect(tickTiming(defaults, ['AUTO_RELEASE_INTERVAL_MS', 'AUTO_RELEASE_SCHEDULE'])).toEqual({
      intervalMs: 3_600_000,
    });
    const scheduled = loadWorkerConfig({
      DATABASE_URL,
      AUTO_RELEASE_SCHEDULE: '5 * * * *',
      OUTBOX_SCHEDULE: '*/1 * * * * *',
      AGGREGATE_INTERVAL_MS: '1000',
      // Empty counts as unset, as everywhere.
      RECONCILE_INTERVAL_MS: '',
      RECONCILE_SCHEDULE: '30 3 * * *',
    });
    expect(tickTiming(scheduled, ['AUTO_RELEASE_INTERVAL_MS', 'AUTO_RELEASE_SCHEDULE'])).toEqual({
      schedule: '5 * * * *',
    });
    expect(tickTiming(scheduled, ['OUTBOX_INTERVAL_MS', 'OUTBOX_SCHEDULE'])).toEqual({
      schedule: '*/1 * * * * *',
    });
    expect(tickTiming(scheduled, ['AGGREGATE_INTERVAL_MS', 'AGGREGATE_SCHEDULE'])).toEqual({
      intervalMs: 1000,
    });
    expect(tickTiming(scheduled, ['RECONCILE_INTERVAL_MS', 'RECONCILE_SCHEDULE'])).toEqual({
      schedule: '30 3 * * *',
    });
  });

  it('refuses a bad cron expression, naming the variable, and an interval and a schedule for one worker', () => {
    expect(cronProblem('5 * * * *')).toBeNull();
    expect(cronProblem('*/1 * * * * *')).toBeNull();
    expect(cronProblem('* *')).toBe('needs 5 fields, or 6 with seconds first (got 2)');
    expect(cronProblem('61 * * * *')).toMatch(/61/);
    expect(
      problemsOf({
        DATABASE_URL,
        AUTO_RELEASE_SCHEDULE: 'hourly',
        AGGREGATE_SCHEDULE: '0 25 * * *',
        OUTBOX_INTERVAL_MS: '1000',
        OUTBOX_SCHEDULE: '* * * * *',
      }),
    ).toEqual([
      expect.stringMatching(/^AUTO_RELEASE_SCHEDULE: not a valid cron expression "hourly": needs 5 fields/),
      expect.stringMatching(/^AGGREGATE_SCHEDULE: not a valid cron expression "0 25 \* \* \*": .*25/),
      'OUTBOX_SCHEDULE: OUTBOX_INTERVAL_MS is also set: use one of them',
    ]);
    // Both set is refused even when both are valid, and alongside other problems.
    expect(problemsOf({ RECONCILE_INTERVAL_MS: '1000', RECONCILE_SCHEDULE: '30 3 * * *' })).toEqual([
      expect.stringMatching(/^DATABASE_URL: /),
      'RECONCILE_SCHEDULE: RECONCILE_INTERVAL_MS is also set: use one of them',
    ]);
  });

  it('reads secrets from NAME_FILE', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'worker-config-'));
    writeFileSync(path.join(dir, 'db'), `${DATABASE_URL}\n`);
    writeFileSync(path.join(dir, 'token'), 'tok-123\n');
    const config = loadWorkerConfig({
      DATABASE_URL_FILE: path.join(dir, 'db'),
      DEPLOYER_URL: 'https://deployer.example/',
      DEPLOYER_TOKEN_FILE: path.join(dir, 'token'),
      WORKER_HEALTH_PORT: '0',
    });
    expect(config).toMatchObject({ DATABASE_URL, DEPLOYER_TOKEN: 'tok-123', WORKER_HEALTH_PORT: 0 });
  });

  it('lists every problem', () => {
    expect(
      problemsOf({
        DEPLOYER_URL: 'ftp://deployer.example',
        OUTBOX_INTERVAL_MS: '0',
        OUTBOX_RETRY_BASE_MS: '5000',
        OUTBOX_RETRY_MAX_MS: '1000',
        DEPLOYER_TOKEN_FILE: '../token',
      }),
    ).toEqual([
      "DEPLOYER_TOKEN_FILE: a path with '..' is refused (../token)",
      expect.stringMatching(/^DATABASE_URL: /),
      'DEPLOYER_URL: must be an http(s) URL',
      expect.stringMatching(/^OUTBOX_INTERVAL_MS: /),
    ]);
    expect(problemsOf({ DATABASE_URL, OUTBOX_RETRY_BASE_MS: '5000', OUTBOX_RETRY_MAX_MS: '1000' })).toEqual([
      'OUTBOX_RETRY_MAX_MS: must be at least OUTBOX_RETRY_BASE_MS',
    ]);
  });
});
