import { jobs } from './jobs/index.ts';

/**
 * `tsx workers/src/main.ts <job> [--once]`: runs one job as a daemon, or one tick with --once.
 * Exit codes: 0 done / stopped, 1 run failed or bad configuration, 2 bad usage.
 */
const USAGE = 'usage: workers/src/main.ts <job> [--once]';

function help(): string {
  const list = Object.entries(jobs)
    .map(([name, entry]) => `  ${name.padEnd(14)} ${entry.description}`)
    .join('\n');
  return `${USAGE}\n\njobs:\n${list}\n\noptions:\n  --once         run one tick, print its outcome as one JSON line, exit 0 (1 if the run failed)\n`;
}

function usageError(message: string): never {
  process.stderr.write(`workers: ${message}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help());
    return;
  }
  const [name, ...rest] = argv;
  const known = Object.keys(jobs).join(', ');
  if (!name || name.startsWith('-')) usageError(`name the job to run (known jobs: ${known}); ${USAGE}`);
  const entry = Object.hasOwn(jobs, name) ? jobs[name] : undefined;
  if (!entry) usageError(`unknown job "${name}" (known jobs: ${known})`);
  const unknownArg = rest.find((arg) => arg !== '--once');
  if (unknownArg) usageError(`unknown argument "${unknownArg}"; ${USAGE}`);

  const [job, { runDaemon }] = await Promise.all([entry.load(), import('./runtime/daemon.ts')]);
  await runDaemon(job, rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`workers: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
