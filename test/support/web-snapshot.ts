import path from 'node:path';
import { REPO_ROOT } from './postgres.ts';

/**
 * Per-run copies of the built web process (web.ts `ensureWebBuilt`): gitignored (under .data/),
 * removed by the global teardown, and reaped after a day when a run was killed.
 */
export const WEB_SNAPSHOTS_DIR = path.join(REPO_ROOT, '.data', 'web-snapshots');

/** The run's snapshot directory (one per vitest run, shared by its test files). */
export function webSnapshotDir(runId: string): string {
  return path.join(WEB_SNAPSHOTS_DIR, `run-${runId}`);
}
