/** The children's environments: the operator's variables plus what `npm start` decided. */
import path from 'node:path';
import { childBaseEnv, REPO_ROOT, type StartConfig } from '../../config.ts';
import type { AdminSecret, PoolSetup, UsageSetup } from './bootstrap.ts';

export type ChildEnv = Record<string, string | undefined>;

/** The sign-up trial `npm start` offers unless SIGNUP_TRIAL is set. */
export const START_SIGNUP_TRIAL = '1 VM for 24h';

/** The api's and the workers' environment. */
export function childEnv(
  config: StartConfig,
  setup: { databaseUrl: string; adminSecret: AdminSecret; usage: UsageSetup; pool: PoolSetup },
): ChildEnv {
  const env = childBaseEnv();
  // The values are passed themselves: a child given NAME and NAME_FILE refuses to start.
  delete env.ADMIN_SECRET_FILE;
  delete env.DATABASE_URL_FILE;
  Object.assign(env, {
    DATABASE_URL: setup.databaseUrl,
    ADMIN_SECRET: setup.adminSecret.value,
    API_PORT: String(config.API_PORT),
    LOG_LEVEL: config.LOG_LEVEL,
    MIGRATE_ON_START: '0',
    NODE_ENV: env.NODE_ENV || 'development',
  });
  Object.assign(env, setup.usage.env, setup.pool.env);
  // No plan catalog configured: the example one, so that plans can be tried out.
  if (!env.PLANS_JSON && !env.PLANS_FILE) env.PLANS_FILE = path.join(REPO_ROOT, 'examples/plans.json');
  // A first-time user signs up and gets a VM at once; a plan (bought with credit) goes beyond it.
  if (env.SIGNUP_TRIAL === undefined) env.SIGNUP_TRIAL = START_SIGNUP_TRIAL;
  // No SMTP server: emails (password reset links) become .eml files to open, their links logged.
  if (!env.SMTP_URL && !env.SMTP_URL_FILE && !env.MAIL_DIR) env.MAIL_DIR = path.join(config.DATA_DIR, 'mail');
  // Links in emails point at the web UI this command serves.
  if (!env.WEB_PUBLIC_URL) env.WEB_PUBLIC_URL = env.WEB_ORIGIN || `http://localhost:${config.WEB_PORT}`;
  return env;
}

/**
 * The web process's environment: the operator's variables without the database URL and the
 * admin secret (the UI asks for the secret on /admin/login and exchanges it for a session; the
 * web server never needs either), plus where the api is and which port to serve.
 */
export function webEnv(base: ChildEnv, config: StartConfig): ChildEnv {
  const env = { ...base };
  for (const name of ['DATABASE_URL', 'DATABASE_URL_FILE', 'ADMIN_SECRET', 'ADMIN_SECRET_FILE'])
    delete env[name];
  for (const name of Object.keys(env)) if (/^(STRIPE_|FORGE_TOKEN)/.test(name)) delete env[name];
  env.HERO_API_URL = `http://127.0.0.1:${config.API_PORT}`;
  env.WEB_PORT = String(config.WEB_PORT);
  return env;
}
