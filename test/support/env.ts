/** The only place tests read the environment (lint rule style/noProcessEnv). */
export const testEnv = {
  /** A server to create test databases on; else 127.0.0.1:5432 if it answers; else embedded. */
  TEST_DATABASE_URL: process.env.TEST_DATABASE_URL,
  /** Set to 1 to skip the local server and always start an embedded PostgreSQL. */
  TEST_EMBEDDED_PG: process.env.TEST_EMBEDDED_PG === '1',
};

/** The environment handed to child processes, minus anything that would change their config. */
export function childEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (
      /^(DATABASE_URL|DB_|MIGRATE_|GRAPHQL_|ADMIN_SECRET|VM_POOL_|PROVISIONER_|DEPLOYER_|API_|WORKER_|OUTBOX_|LOG_LEVEL|NODE_ENV|STRIPE_|PLANS_|DEFAULT_CURRENCY|RECONCILE_|SESSION_TTL_HOURS|TRUSTED_PROXIES|AUTH_RATE_LIMIT_|WEB_|HERO_API_)/.test(
        k,
      )
    )
      continue;
    base[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) base[k] = v;
  return base;
}
