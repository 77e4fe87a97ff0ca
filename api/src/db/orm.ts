import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM, type Options } from '@mikro-orm/postgresql';
import { entities } from '../entities/index.ts';
import { migrationsList } from './migrations/index.ts';

export interface OrmOptions {
  databaseUrl: string;
  poolMax?: number;
  debug?: boolean;
}

export function ormConfig({ databaseUrl, poolMax = 10, debug = false }: OrmOptions): Options {
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
    debug,
    // Requests and job runs always fork their own EntityManager.
    allowGlobalContext: false,
  });
}

export function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}

export type { MikroORM };
