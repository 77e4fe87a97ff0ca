import { type Operation, sourceOf } from '@hero/graphql';
import { expect } from 'vitest';
import { parseCommandLine } from './args.ts';
import type { ApiClient } from './client.ts';
import { CliError, UsageError } from './errors.ts';
import { runCommand } from './run.ts';

/** Helpers for the CLI's unit tests (imported by *.test.ts only). */

/** The message of the usage error (exit 2) that `argv` must be refused with. */
export function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return (err as UsageError).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

interface Sent {
  /** The operation as sent over HTTP (printed). */
  query: string;
  document: Operation;
  variables: Record<string, unknown>;
}

/**
 * Parses and runs `argv` against a stub client that answers the requests with `answers` in turn,
 * the last one for every request after it: what was sent, what was printed, and the CliError it
 * failed with.
 */
export async function runWith(argv: string[], ...answers: unknown[]) {
  const invocation = parseCommandLine(argv);
  if (invocation.kind !== 'run') throw new Error('expected a command');
  const sent: Sent[] = [];
  const client = {
    request: async (document: Operation, variables: Record<string, unknown> = {}) => {
      sent.push({ query: sourceOf(document), document, variables });
      return answers[Math.min(sent.length, answers.length) - 1];
    },
  } as unknown as ApiClient;
  let out = '';
  let err = '';
  const io = {
    out: (t: string) => {
      out += t;
    },
    err: (t: string) => {
      err += t;
    },
  };
  let error: CliError | undefined;
  try {
    await runCommand(invocation.command, { client, json: invocation.json, io });
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    error = e;
  }
  return { sent, out, err, error };
}

/** Header and data rows of a table the CLI printed, split on its runs of 2+ spaces. */
export const tableRows = (text: string): string[][] =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
