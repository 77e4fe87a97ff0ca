import { readFileSync } from 'node:fs';
import { ConfigError, type Env } from '@hero/core/lib/env';
import { parseCommandLine } from './args.ts';
import { ApiClient } from './client.ts';
import type { ApiContext, CommandDefinition, Output } from './command.ts';
import { COMMANDS, type Command } from './commands/index.ts';
import { loadCliConfig, loadPushConfig } from './config.ts';
import { CliError, printable } from './errors.ts';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function report(io: Output, err: unknown): number {
  if (err instanceof ConfigError) {
    io.err('hero-admin: invalid configuration\n');
    for (const problem of err.problems) io.err(`  - ${problem}\n`);
    return 1;
  }
  if (err instanceof CliError) {
    io.err(`hero-admin: ${err.message}\n`);
    for (const line of err.details) io.err(`${line}\n`);
    return err.exitCode;
  }
  // A bug, not an API answer: still one line, but with what is known.
  io.err(`hero-admin: unexpected error: ${printable(err instanceof Error ? err.message : String(err))}\n`);
  return 1;
}

function definitionOf(command: Command): CommandDefinition {
  const def: CommandDefinition | undefined = COMMANDS.find((c) => c.name === command.name);
  if (!def) throw new Error(`no command named ${command.name}`);
  return def;
}

/** Runs a parsed command that talks to the API with the given client (tests pass their own). */
export async function runCommand(command: Command, ctx: ApiContext): Promise<void> {
  const def = definitionOf(command);
  if (def.uses !== 'api') throw new Error(`${def.name} does not use the API`);
  await def.run(ctx, command);
}

/**
 * Runs `hero-admin` with the given arguments (without node and the script) and answers the exit
 * code: 0 done, 1 failed (API error, refused input, unreachable API, bad configuration), 2 usage.
 * `env` defaults to the process environment (read in config.ts only). Configuration is loaded
 * after parsing, so --help and usage errors need none.
 */
export async function run(argv: string[], io: Output, env?: Env): Promise<number> {
  let invocation: ReturnType<typeof parseCommandLine>;
  try {
    invocation = parseCommandLine(argv);
  } catch (err) {
    return report(io, err);
  }
  if (invocation.kind === 'help') {
    io.out(invocation.text);
    return 0;
  }
  if (invocation.kind === 'version') {
    io.out(`hero-admin ${version()}\n`);
    return 0;
  }

  const { command, json } = invocation;
  const def = definitionOf(command);
  if (def.uses === 'billing repository') {
    try {
      await def.run({ config: loadPushConfig(env), json, io }, command);
      return 0;
    } catch (err) {
      return report(io, err);
    }
  }

  let config: ReturnType<typeof loadCliConfig>;
  try {
    config = loadCliConfig(env);
  } catch (err) {
    return report(io, err);
  }
  const client = new ApiClient({
    url: config.HERO_API_URL,
    adminSecret: config.ADMIN_SECRET,
    timeoutMs: config.HERO_API_TIMEOUT_MS,
  });
  try {
    await def.run({ client, json, io }, command);
    return 0;
  } catch (err) {
    return report(io, err);
  } finally {
    await client.close();
  }
}
