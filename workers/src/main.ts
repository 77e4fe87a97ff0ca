import { jobs } from './jobs/index.ts';
import { runDaemon } from './runtime/daemon.ts';

/**
 * `tsx workers/src/main.ts <job> [--once]`: runs one job as a daemon, or one tick with --once.
 * Exit codes: 0 done / stopped, 1 run failed or bad configuration, 2 bad usage.
 */
function usage(): string {
  const list = Object.values(jobs)
    .map((job) => `  ${job.name.padEnd(14)} ${job.description}`)
    .join('\n');
  return `usage: workers/src/main.ts <job> [--once]\n\njobs:\n${list}\n\n  --once   run one tick, print its outcome as one JSON line, exit 0 (1 if it failed)\n`;
}

const [name, ...rest] = process.argv.slice(2);
if (name === '--help' || name === '-h') {
  process.stdout.write(usage());
  process.exit(0);
}
const known = Object.keys(jobs).join(', ');
if (!name || name.startsWith('-')) {
  process.stderr.write(`workers: name the job to run (known jobs: ${known}); usage: workers/src/main.ts <job> [--once]\n`);
  process.exit(2);
}
const job = Object.hasOwn(jobs, name) ? jobs[name] : undefined;
if (!job) {
  process.stderr.write(`workers: unknown job "${name}" (known jobs: ${known})\n`);
  process.exit(2);
}

runDaemon(job, rest).catch((err: unknown) => {
  process.stderr.write(`worker ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
