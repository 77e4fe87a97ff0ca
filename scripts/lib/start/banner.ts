/** The banner `npm start` prints once everything answers: where things are and how to try them. */
import path from 'node:path';
import { REPO_ROOT, type StartConfig } from '../../config.ts';
import type { AdminSecret, PoolSetup, UsageSetup } from './bootstrap.ts';
import { type ChildEnv, START_SIGNUP_TRIAL } from './environment.ts';
import { elapsed, say } from './output.ts';

export interface ReadyState {
  /** performance.now() when `npm start` began. */
  started: number;
  config: StartConfig;
  /** The api's and the workers' environment. */
  env: ChildEnv;
  databaseNote: string;
  adminSecret: AdminSecret;
  usage: UsageSetup;
  pool: PoolSetup;
  /** The names of the children started, in start order. */
  children: string[];
}

export function printReadyBanner(state: ReadyState): void {
  const { config, env, adminSecret } = state;
  const base = `http://localhost:${config.API_PORT}`;
  const webUrl = `http://localhost:${config.WEB_PORT}`;
  const workers = state.children.filter((name) => name !== 'api' && name !== 'web');
  // The CLI's defaults are the api on 127.0.0.1:4000 and the secret from the environment.
  const cliEnv = [
    ...(config.API_PORT === 4000 ? [] : [`HERO_API_URL=http://127.0.0.1:${config.API_PORT}`]),
    ...(adminSecret.forCli ? [adminSecret.forCli] : []),
  ]
    .map((word) => `${word} `)
    .join('');
  const curl =
    `curl -s localhost:${config.API_PORT}/graphql -H 'content-type: application/json' ` +
    `-H "x-admin-secret: ${adminSecret.forCurl}" -d '{"query":"{ pool { id } }"}'`;
  say(
    [
      `ready in ${elapsed(state.started)}`,
      state.children.includes('web')
        ? `  web UI    ${webUrl}/  (admin: ${webUrl}/admin)${
            env.WEB_ORIGIN
              ? `  public origin WEB_ORIGIN=${env.WEB_ORIGIN} (form posts must come from it)`
              : ''
          }`
        : '  web UI    not started (web/server/main.ts is missing)',
      `  GraphQL   ${base}/graphql${env.NODE_ENV === 'development' ? '  (GraphiQL in a browser)' : ''}`,
      `  health    ${base}/healthz  ${base}/readyz`,
      `  database  ${state.databaseNote}`,
      `  pool      ${state.pool.describe}`,
      `  plans     ${env.PLANS_JSON ? 'from PLANS_JSON' : `from PLANS_FILE=${path.relative(REPO_ROOT, env.PLANS_FILE ?? '') || env.PLANS_FILE}`}`,
      `  sign-up   trial SIGNUP_TRIAL=${env.SIGNUP_TRIAL || 'off'}${
        env.SIGNUP_TRIAL === START_SIGNUP_TRIAL ? ' (npm start default: new users can get a VM at once)' : ''
      }`,
      `  email     ${
        env.SMTP_URL || env.SMTP_URL_FILE
          ? 'sent through SMTP_URL'
          : env.MAIL_DIR
            ? `written to ${path.relative(REPO_ROOT, env.MAIL_DIR) || env.MAIL_DIR}/ as .eml files (no SMTP_URL; the api and the outbox worker log each file and its links)`
            : 'logged by the api (no SMTP_URL, no MAIL_DIR)'
      }; links to WEB_PUBLIC_URL=${env.WEB_PUBLIC_URL}`,
      `  workers   ${workers.length ? workers.join(', ') : 'none'}`,
      ...state.usage.describe,
      `  ${adminSecret.describe}`,
      `  try:      ${curl}`,
      `            ${cliEnv}npx hero-admin pool list`,
      '  Ctrl-C stops everything.',
    ].join('\n'),
  );
}
