import schedule from 'node-schedule';

/**
 * Runs `tick` at the times of a cron expression (node-schedule's scheduleJob). A time that comes
 * while the previous tick is still running is skipped (`onSkip`): ticks never overlap in a
 * process. `tick` must not reject. Cancel the returned job to stop.
 */
export function scheduleCronTicks(
  expression: string,
  tick: () => Promise<void>,
  onSkip: (scheduledAt: Date) => void,
): schedule.Job {
  let running = false;
  const job = schedule.scheduleJob(expression, (scheduledAt) => {
    if (running) {
      onSkip(scheduledAt);
      return;
    }
    running = true;
    void tick().finally(() => {
      running = false;
    });
  });
  // The configuration checked the expression; null means it has no time left to fire at.
  if (!job) throw new Error(`cron expression "${expression}" cannot be scheduled`);
  return job;
}
