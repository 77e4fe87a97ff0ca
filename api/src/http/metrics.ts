import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, Registry } from 'prom-client';
import { loadLedgerHealth } from '../admin/overview.ts';

/**
 * GET /metrics (Prometheus text format). Values are read from the database at scrape time, so
 * every api replica reports the same figures.
 */
export function createMetrics(orm: MikroORM): Registry {
  const registry = new Registry();
  let pending: ReturnType<typeof loadLedgerHealth> | null = null;
  // One database read per scrape, shared by the gauges below.
  const ledger = () => {
    pending ??= loadLedgerHealth(orm.em.fork()).finally(() => {
      setImmediate(() => {
        pending = null;
      });
    });
    return pending;
  };
  new Gauge({
    name: 'hero_ledger_drift_users',
    help: 'Users whose balance differs from the sum of their ledger rows, at the last reconciliation (-1: never run).',
    registers: [registry],
    async collect() {
      this.set((await ledger()).usersDrifted ?? -1);
    },
  });
  new Gauge({
    name: 'hero_ledger_drift_cents',
    help: 'Sum of |balance - ledger| over all users, at the last reconciliation (-1: never run).',
    registers: [registry],
    async collect() {
      this.set((await ledger()).totalDriftCents ?? -1);
    },
  });
  new Gauge({
    name: 'hero_ledger_last_check_timestamp_seconds',
    help: 'When the last reconciliation finished (0: never).',
    registers: [registry],
    async collect() {
      const at = (await ledger()).lastCheckedAt;
      this.set(at ? at.getTime() / 1000 : 0);
    },
  });
  return registry;
}
