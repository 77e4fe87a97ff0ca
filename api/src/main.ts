import type { AddressInfo } from 'node:net';
import { createStripeClient, type TopUpCheckout } from '@hero/core/billing/checkout';
import { creditPolicyOf } from '@hero/core/billing/credit-policy';
import { loadPlanCatalog, type PlanCatalog } from '@hero/core/billing/plans';
import { connectOrm, DatabaseUnavailableError, logRetries } from '@hero/core/db/connect';
import { migrate } from '@hero/core/db/migrate';
import type { MikroORM } from '@hero/core/db/orm';
import { exitOnConfigError } from '@hero/core/lib/env';
import { createLogger } from '@hero/core/lib/logger';
import { createLifecycle, httpServerStop } from '@hero/core/lifecycle';
import { createMailer } from '@hero/core/mail/mailer';
import { DemoProvisioner } from '@hero/core/provisioners/demo-provisioner';
import { PoolProvisioner } from '@hero/core/provisioners/pool-provisioner';
import { type ProvisionerSetup, setupProvisioner } from '@hero/core/provisioners/registry';
import { createUsageSource, forgeLinks } from '@hero/core/usage/sources/source-config';
import { loadApiConfig, signupVerifyEmail } from './config.ts';
import { graphqlHardening } from './http/graphql-hardening.ts';
import { watchReadiness } from './http/readiness.ts';
import { createApiServer } from './http/server.ts';

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

  // SIGTERM / SIGINT from here on: core/src/lifecycle.ts. One during start-up ends the wait for
  // the database, or lets migrations and the boot pool finish and stops before listening.
  const lifecycle = createLifecycle({ log, graceMs: config.API_SHUTDOWN_TIMEOUT_MS });

  let orm: MikroORM;
  try {
    orm = await connectOrm({
      databaseUrl: config.DATABASE_URL,
      poolMax: config.DB_POOL_MAX,
      poolTimeoutMs: config.DB_POOL_TIMEOUT_MS,
      timeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      onRetry: logRetries(log),
      signal: lifecycle.signal,
    });
  } catch (err) {
    if (lifecycle.stopping) return lifecycle.proceed();
    if (err instanceof DatabaseUnavailableError) {
      log.fatal({ attempts: err.attempts, err: err.lastError }, err.message);
      log.flush();
      process.stderr.write(`api: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  lifecycle.onStop({ stop: () => orm.close() });
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(orm);
    if (applied.length) log.info({ migrations: applied }, 'migrations applied');
  }
  const { provisioner, bootManifest } = setup;
  if (provisioner instanceof PoolProvisioner && bootManifest) {
    const result = await provisioner.refreshPool(orm.em.fork(), bootManifest);
    log.info(result, 'pool loaded from the boot manifest');
  } else if (provisioner instanceof PoolProvisioner) {
    log.info('pool provisioner with an empty boot manifest: the pool is left as refreshPool made it');
  } else if (provisioner instanceof DemoProvisioner) {
    const added = await provisioner.seed(orm.em.fork());
    log.info({ added }, 'demo provisioner: fabricated pool ready');
  } else if (!provisioner) {
    log.warn(
      'no provisioner configured: pool and allocation operations answer PROVISIONER_UNAVAILABLE (503)',
    );
  }

  await lifecycle.proceed();

  const usageSource = createUsageSource(config);
  if (!usageSource)
    log.warn('no usage source configured: aggregateNow answers USAGE_SOURCE_UNAVAILABLE (503)');

  const topUp: TopUpCheckout | null = config.STRIPE_SECRET_KEY
    ? {
        stripe: createStripeClient({ secretKey: config.STRIPE_SECRET_KEY, apiUrl: config.STRIPE_API_URL }),
        settings: {
          minCents: config.TOPUP_MIN_CENTS,
          maxCents: config.TOPUP_MAX_CENTS,
          presetsCents: config.TOPUP_PRESETS_CENTS,
          returnUrl: config.WEB_PUBLIC_URL,
        },
        log: log.child({ module: 'checkout' }),
      }
    : null;
  if (topUp && !config.STRIPE_WEBHOOK_SECRET)
    log.warn(
      'STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: top-ups can be paid but are never credited',
    );
  const mailer = createMailer(
    {
      smtpUrl: config.SMTP_URL ?? null,
      from: config.MAIL_FROM,
      dir: config.MAIL_DIR ?? null,
      timeoutMs: config.MAIL_TIMEOUT_MS,
    },
    log.child({ module: 'mail' }),
  );
  lifecycle.onStop({ stop: async () => mailer.close() });

  const server = createApiServer({
    mailer,
    orm,
    lifecycle,
    adminSecret: config.ADMIN_SECRET,
    provisioner,
    usageSource,
    log,
    settings: {
      expiryWarningHours: config.EXPIRY_WARNING_HOURS,
      creditPolicy: creditPolicyOf(config),
      aggregateBatchSize: config.AGGREGATE_BATCH_SIZE,
      defaultCurrency: config.DEFAULT_CURRENCY,
      signupTrial: config.SIGNUP_TRIAL,
      signupMode: config.SIGNUP_MODE,
      signupVerifyEmail: signupVerifyEmail(config),
      plans,
      forgeLinks: forgeLinks(config),
      auth: {
        sessionTtlHours: config.SESSION_TTL_HOURS,
        rateLimitEmail: config.AUTH_RATE_LIMIT_EMAIL,
        rateLimitIp: config.AUTH_RATE_LIMIT_IP,
      },
      trustedProxies: config.TRUSTED_PROXIES,
      oidc:
        config.OIDC_ISSUER_URL && config.OIDC_CLIENT_ID
          ? {
              issuer: config.OIDC_ISSUER_URL,
              clientId: config.OIDC_CLIENT_ID,
              roleClaim: config.OIDC_ROLE_CLAIM ?? null,
              roleMap: config.OIDC_ROLE_MAP,
            }
          : null,
      passwordReset: {
        webUrl: config.WEB_PUBLIC_URL,
        rateLimitEmail: config.PASSWORD_RESET_RATE_LIMIT_EMAIL,
      },
    },
    graphql: graphqlHardening(config),
    corsOrigins: config.API_CORS_ORIGINS,
    stripe: {
      secret: config.STRIPE_WEBHOOK_SECRET ?? null,
      toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    },
    topUp,
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
        topUp: Boolean(topUp),
        mail: mailer.description,
      },
      `api listening on http://localhost:${port}/graphql`,
    );
    lifecycle.started();
  });

  // An api whose pool stays unable to reach the database ends itself, so that its supervisor
  // (compose's restart policy) starts a new one.
  const readiness =
    config.API_UNREADY_EXIT_MS > 0
      ? watchReadiness({
          orm,
          exitAfterMs: config.API_UNREADY_EXIT_MS,
          log,
          giveUp: (unreadyForMs, reason) => {
            if (lifecycle.stopping) return;
            log.fatal({ unreadyForMs, reason }, 'unready for too long (API_UNREADY_EXIT_MS): exiting');
            log.flush();
            process.stderr.write(
              `api: unready for ${Math.round(unreadyForMs / 1000)} s (${reason}): exiting\n`,
            );
            process.exit(1);
          },
        })
      : null;

  // A stop runs the steps last-registered first: the readiness watch ends, the server drains,
  // then the pool (registered at connect) closes.
  lifecycle.onStop(httpServerStop(server));
  if (readiness) lifecycle.onStop({ stop: async () => readiness.stop() });
}

main().catch((err) => {
  process.stderr.write(`api: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
