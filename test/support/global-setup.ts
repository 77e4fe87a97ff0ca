import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { migrateDatabase } from '@hero/core/db/migrate';
import type { TestDatabaseContext } from '@hero/core/testing/database';
import type { TestProject } from 'vitest/node';
import { testEnv } from './env.ts';
import {
  adminQuery,
  canConnect,
  dropDatabase,
  type RunningPostgres,
  startEmbeddedPostgres,
  withDatabase,
} from './postgres.ts';
import { webSnapshotDir } from './web-snapshot.ts';

const DAY_SECONDS = 24 * 3600;
const LOCAL_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Test databases are named hero_t_<epoch seconds>_<run>_… so stale ones can be reaped by age. */
async function reapStaleDatabases(adminUrl: string): Promise<string[]> {
  const rows = await adminQuery<{ datname: string }>(
    adminUrl,
    "select datname from pg_database where datname ~ '^hero_(t|tpl)_[0-9]+_'",
  );
  const now = Math.floor(Date.now() / 1000);
  const stale = rows
    .map((r) => r.datname)
    .filter((name) => now - Number(/^hero_(?:t|tpl)_(\d+)_/.exec(name)?.[1] ?? now) > DAY_SECONDS);
  for (const name of stale) await dropDatabase(adminUrl, name);
  return stale;
}

export default async function setup(project: TestProject) {
  let server: RunningPostgres;
  const runId = `${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString('hex')}`;
  if (!testEnv.TEST_EMBEDDED_PG && testEnv.TEST_DATABASE_URL) {
    server = { adminUrl: testEnv.TEST_DATABASE_URL, embedded: false, stop: async () => {} };
  } else if (!testEnv.TEST_EMBEDDED_PG && (await canConnect(LOCAL_SERVER))) {
    server = { adminUrl: LOCAL_SERVER, embedded: false, stop: async () => {} };
  } else {
    server = await startEmbeddedPostgres(`test-pg-${runId}`);
  }
  const reaped = await reapStaleDatabases(server.adminUrl);
  if (reaped.length) console.log(`test databases: reaped ${reaped.length} stale database(s)`);

  const template = `hero_tpl_${runId}`;
  await adminQuery(server.adminUrl, `create database "${template}"`);
  await migrateDatabase(withDatabase(server.adminUrl, template));
  console.log(
    `test databases: ${server.embedded ? 'embedded PostgreSQL' : new URL(server.adminUrl).host}, template ${template}`,
  );

  const provided: TestDatabaseContext = {
    pgAdminUrl: server.adminUrl,
    pgTemplate: template,
    pgRunId: runId,
    pgEmbedded: server.embedded,
  };
  project.provide('pgAdminUrl', provided.pgAdminUrl);
  project.provide('pgTemplate', provided.pgTemplate);
  project.provide('pgRunId', provided.pgRunId);
  project.provide('pgEmbedded', provided.pgEmbedded);

  return async () => {
    const rows = await adminQuery<{ datname: string }>(
      server.adminUrl,
      'select datname from pg_database where datname like $1',
      [`hero_t_${runId}_%`],
    );
    for (const { datname } of rows) await dropDatabase(server.adminUrl, datname);
    await dropDatabase(server.adminUrl, template);
    await server.stop();
    // The browser tests' copy of the built web process (test/support/web.ts).
    rmSync(webSnapshotDir(runId), { recursive: true, force: true });
  };
}
