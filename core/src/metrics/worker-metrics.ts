import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a worker tick ended: the job-run status, or ERROR when it could not run at all (database down). */
export type TickStatus = 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'ERROR';

export interface WorkerMetrics {
  /** Call when a tick starts; the answer is called with how it ended. */
  tickStarted(): (status: TickStatus) => void;
}

/**
 * A worker process's own ticks (process-local, unlike the database-derived series):
 * `hero_worker_ticks_total{job_name,status}`, `hero_worker_tick_duration_seconds{job_name}`,
 * `hero_worker_last_success_timestamp_seconds{job_name}` and
 * `hero_worker_tick_in_progress{job_name}`.
 */
export function createWorkerMetrics(registry: Registry, jobName: string): WorkerMetrics {
  const ticks = new Counter({
    name: 'hero_worker_ticks_total',
    help: 'Ticks this worker process ran, by job and how they ended (SUCCEEDED | FAILED | SKIPPED | ERROR: could not run).',
    labelNames: ['job_name', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hero_worker_tick_duration_seconds',
    help: 'How long this worker process’s ticks took, by job.',
    labelNames: ['job_name'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'hero_worker_last_success_timestamp_seconds',
    help: 'When this worker process’s last SUCCEEDED tick ended (Unix time; 0: none yet).',
    labelNames: ['job_name'] as const,
    registers: [registry],
  });
  const inProgress = new Gauge({
    name: 'hero_worker_tick_in_progress',
    help: '1 while this worker process runs a tick of the job.',
    labelNames: ['job_name'] as const,
    registers: [registry],
  });
  const labels = { job_name: jobName };
  // Every series exists from the start (rate() and absent() need them).
  for (const status of ['SUCCEEDED', 'FAILED', 'SKIPPED', 'ERROR'] as const)
    ticks.inc({ ...labels, status }, 0);
  lastSuccess.set(labels, 0);
  inProgress.set(labels, 0);
  duration.zero(labels);
  return {
    tickStarted() {
      const started = performance.now();
      inProgress.set(labels, 1);
      return (status) => {
        inProgress.set(labels, 0);
        ticks.inc({ ...labels, status });
        duration.observe(labels, (performance.now() - started) / 1000);
        if (status === 'SUCCEEDED') lastSuccess.set(labels, Date.now() / 1000);
      };
    },
  };
}
