import type { AddressInfo } from 'node:net';
import { loadPlanCatalog, type PlanCatalog } from './billing/plans.ts';
import { loadApiConfig } from './config.ts';
import { migrate } from './db/migrate.ts';
import { createOrm } from './db/orm.ts';
import { createApiServer } from './http/server.ts';
import { exitOnConfigError } from './lib/env.ts';
import { createLogger } from './lib/logger.ts';
import { DemoProvisioner } from './provisioners/demo-provisioner.ts';
import { PoolProvisioner } from './provisioners/pool-provisioner.ts';
import { type ProvisionerSetup, setupProvisioner } from './provisioners/registry.ts';
import { createUsageSource } from './usage/sources/source-config.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadApiConfig>;
  let setup: ProvisionerSetup;
  let plans: PlanCatalog;
  try {
    config = loadApiConfig();
    setup = setupProvisioner(config);
    plans = loadPlanCatalog(config);
  } catch (err) {
    exitOnConfigError(err, 'api');
  }
  const log = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL, poolMax: config.DB_POOL_MAX });
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(orm);
    if (applied.length) log.info({ migrations: applied }, 'migrations applied');
  }
  const { provisioner, bootManifest } = setup;
  if (provisioner instanceof PoolProvisioner && bootManifest) {
    const result = await provisioner.refreshPool(orm.em.fork(), bootManifest);
    log.info(result, 'pool loaded from the boot manifest');
  } else if (provisioner instanceof DemoProvisioner) {
    const added = await provisioner.seed(orm.em.fork());
    log.info({ added }, 'demo provisioner: fabricated pool ready');
  } else if (!provisioner) {
    log.warn(
      'no provisioner configured: pool and allocation operations answer PROVISIONER_UNAVAILABLE (503)',
    );
  }

  const usageSource = createUsageSource(config);
  if (!usageSource)
    log.warn('no usage source configured: aggregateNow answers USAGE_SOURCE_UNAVAILABLE (503)');

  const server = createApiServer({
    orm,
    adminSecret: config.ADMIN_SECRET,
    provisioner,
    usageSource,
    log,
    settings: {
      expiryWarningHours: config.EXPIRY_WARNING_HOURS,
      aggregateBatchSize: config.AGGREGATE_BATCH_SIZE,
      defaultCurrency: config.DEFAULT_CURRENCY,
      plans,
      auth: {
        sessionTtlHours: config.SESSION_TTL_HOURS,
        rateLimitEmail: config.AUTH_RATE_LIMIT_EMAIL,
        rateLimitIp: config.AUTH_RATE_LIMIT_IP,
      },
      trustedProxies: config.TRUSTED_PROXIES,
    },
    graphiql: config.NODE_ENV === 'development',
    stripe: {
      secret: config.STRIPE_WEBHOOK_SECRET ?? null,
      toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    },
  });
  server.listen(config.API_PORT, config.API_HOST, () => {
    const { port } = server.address() as AddressInfo;
    log.info(
      {
        port,
        provisioner: provisioner?.name ?? null,
        usageSource: usageSource?.description ?? null,
        plans: plans.plans.map((p) => p.code),
        currency: config.DEFAULT_CURRENCY,
        stripeWebhook: Boolean(config.STRIPE_WEBHOOK_SECRET),
      },
      `api listening on http://localhost:${port}/graphql`,
    );
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown took too long, exiting');
      process.exit(1);
    }, 10_000);
    timer.unref();
    server.close(() => {
      orm.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`api: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
