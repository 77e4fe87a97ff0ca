/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL (or DATABASE_URL_FILE) and
 * prints their names. Safe to run while other replicas start: migrations run under an
 * advisory lock.
 */
import { migrateDatabase } from '@hero/core/db/migrate';
import { exitOnConfigError } from '@hero/core/lib/env';
import { describeDatabaseError, loadMigrateConfig, type MigrateConfig, redactDatabaseUrl } from './config.ts';

async function main(): Promise<void> {
  let config: MigrateConfig;
  try {
    config = loadMigrateConfig();
  } catch (err) {
    exitOnConfigError(err, 'migrate');
  }
  const target = redactDatabaseUrl(config.DATABASE_URL);
  let applied: string[];
  try {
    applied = await migrateDatabase(config.DATABASE_URL, {
      connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      onRetry: ({ attempt, retryInMs, err }) =>
        process.stderr.write(
          `migrate: ${target} not reachable yet (attempt ${attempt}: ${err}); retrying in ${retryInMs} ms\n`,
        ),
    });
  } catch (err) {
    process.stderr.write(`migrate: ${describeDatabaseError(err, target)}\n`);
    process.exit(1);
  }
  if (applied.length === 0) {
    process.stdout.write(`migrate: ${target} is up to date\n`);
  } else {
    process.stdout.write(`migrate: applied ${applied.length} migration(s) to ${target}:\n`);
    for (const name of applied) process.stdout.write(`  ${name}\n`);
  }
}

await main();
