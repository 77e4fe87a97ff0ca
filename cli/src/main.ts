import { run } from './run.ts';

/**
 * `hero-admin <command> [options]`: the admin CLI (see `--help` and docs/cli.md). Talks to the
 * API over HTTP with the admin secret. Exit codes: 0 done, 1 failed, 2 usage error.
 */

// `hero-admin pool list | head -1`: a closed pipe ends the output, not in a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  progress: process.stderr.isTTY ? process.stderr : undefined,
});
