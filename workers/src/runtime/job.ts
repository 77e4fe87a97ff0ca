import type { JobTrigger } from '@hero/core/entities/job-run.entity';
import type { Logger } from '@hero/core/lib/logger';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TickTiming, WorkerConfig } from '../config.ts';

export interface JobContext {
  /** A fork of its own for this run; never the global EntityManager. */
  em: EntityManager;
  config: WorkerConfig;
  /** Child logger carrying `job` (and the run id). */
  log: Logger;
  trigger: JobTrigger;
  /** Aborted when the process is asked to stop: finish the item in hand, take no new ones. */
  signal: AbortSignal;
  /** Live progress for the RUNNING job-run row (throttled; never throws). */
  progress(value: Record<string, unknown>): void;
}

/** Something besides the database a job needs, checked by the health server's GET /readyz. */
export interface ReadinessCheck {
  /** The key of the answer, e.g. `forge`. */
  readonly name: string;
  /** Cheap (one request); throws with the reason when the dependency fails. Bounded by `signal`. */
  check(signal: AbortSignal): Promise<void>;
}

/** A scheduled job a worker process runs: one tick = one `run`, under the job's run lock. */
export interface Job<S extends object = Record<string, unknown>> {
  /** The CLI name, the run-lock key and `job_run.job`. */
  readonly name: string;
  /** When the daemon ticks: a pause after each tick, or the times of a cron expression. */
  timing(config: WorkerConfig): TickTiming;
  /** Settings this job needs beyond the shared schema; each problem is one line (exit 1 at start). */
  checkConfig?(config: WorkerConfig): string[];
  /** Settings worth logging in the "worker started" line (never a secret). */
  describeConfig?(config: WorkerConfig): Record<string, unknown>;
  /** What GET /readyz checks besides the database (e.g. the aggregator's forge). */
  readiness?(config: WorkerConfig): ReadinessCheck[];
  /** One tick; the summary is stored on the job-run row. Throw to record a failed run. */
  run(ctx: JobContext): Promise<S>;
}
