import type schedule from 'node-schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { scheduleCronTicks } from './cron-ticks.ts';

let job: schedule.Job | null = null;
afterEach(() => job?.cancel());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('scheduleCronTicks', () => {
  it('ticks at each time of the expression, skipping the times that come while a tick is running', async () => {
    const started: number[] = [];
    const skipped: Date[] = [];
    let running = 0;
    let overlapped = false;
    job = scheduleCronTicks(
      '*/1 * * * * *',
      async () => {
        started.push(Date.now());
        running++;
        if (running > 1) overlapped = true;
        // The first tick outlasts two times of the schedule; the later ones are quick.
        await sleep(started.length === 1 ? 2_300 : 50);
        running--;
      },
      (at) => skipped.push(at),
    );
    await sleep(4_600);
    job.cancel();
    expect(overlapped).toBe(false);
    // About: tick at t, skips at t+1 and t+2, ticks at t+3 and t+4 (depending on where in the second it began).
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(started.length + skipped.length).toBeGreaterThanOrEqual(4);
    for (const at of skipped) expect(at).toBeInstanceOf(Date);
  });

  it('stops ticking once cancelled', async () => {
    let ticks = 0;
    job = scheduleCronTicks(
      '*/1 * * * * *',
      async () => {
        ticks++;
      },
      () => {},
    );
    job.cancel();
    await sleep(1_200);
    expect(ticks).toBe(0);
  });
});
