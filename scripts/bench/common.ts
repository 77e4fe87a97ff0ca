import { randomBytes } from 'node:crypto';
import { canConnect, startEmbeddedPostgres } from '../lib/postgres.ts';

/** What every benchmark shares: its settings from BENCH_* variables and its PostgreSQL server. */

const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A whole-number setting; unset or empty: the fallback. */
export function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number >= ${min} (got "${raw}")`);
  }
  return value;
}

export interface PgServer {
  /** URL of a database on the server we may connect to, to create / drop the bench databases. */
  adminUrl: string;
  description: string;
  stop(): Promise<void>;
}

export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** BENCH_DATABASE_URL, else postgres@127.0.0.1:5432 when it answers, else an embedded server for the run. */
export async function resolvePgServer(): Promise<PgServer> {
  const fromEnv = process.env.BENCH_DATABASE_URL;
  if (fromEnv) {
    return {
      adminUrl: fromEnv,
      description: `BENCH_DATABASE_URL (${redact(fromEnv)})`,
      stop: async () => {},
    };
  }
  if (await canConnect(LOCAL_ADMIN_URL)) {
    return {
      adminUrl: LOCAL_ADMIN_URL,
      description: 'local server postgres@127.0.0.1:5432',
      stop: async () => {},
    };
  }
  const embedded = await startEmbeddedPostgres(`bench-pg-${randomBytes(4).toString('hex')}`);
  return { ...embedded, description: `embedded PostgreSQL (${redact(embedded.adminUrl)})` };
}
