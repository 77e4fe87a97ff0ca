import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM, type Options } from '@mikro-orm/postgresql';
import { entities } from '../entities/index.ts';
import { migrationsList } from './migrations/index.ts';
import { reclaimEndedClients } from './pool-guard.ts';

/** How long a statement waits for a free pool connection (or a new one) before it fails. */
export const DEFAULT_POOL_TIMEOUT_MS = 10_000;

export interface OrmOptions {
  databaseUrl: string;
  poolMax?: number;
  /** See DEFAULT_POOL_TIMEOUT_MS; the error it raises reads as DATABASE_BUSY to API callers. */
  poolTimeoutMs?: number;
  debug?: boolean;
}

export function ormConfig({
  databaseUrl,
  poolMax = 10,
  poolTimeoutMs = DEFAULT_POOL_TIMEOUT_MS,
  debug = false,
}: OrmOptions): Options {
  return defineConfig({
    clientUrl: databaseUrl,
    entities,
    discovery: { warnWhenNoEntities: true },
    extensions: [Migrator],
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      silent: true,
      // No .snapshot-<db>.json files: migrations are written by hand.
      snapshot: false,
    },
    pool: { min: 0, max: poolMax },
    // pg's own pool settings: without a timeout, a request waits for a connection for ever.
    driverOptions: { connectionTimeoutMillis: poolTimeoutMs, onPoolCreated: reclaimEndedClients },
    debug,
    // Requests and job runs always fork their own EntityManager.
    allowGlobalContext: false,
  });
}

export function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}

export type { MikroORM };
