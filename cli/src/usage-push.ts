import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createUsageSource } from '../../api/src/usage/sources/source-config.ts';
import {
  NODE_NAME,
  parseUsageFile,
  USAGE_FILE_NAME,
  UsageFileError,
} from '../../api/src/usage/usage-format.ts';
import type { Command } from './args.ts';
import type { Output } from './commands.ts';
import type { PushConfig } from './config.ts';
import { CliError, UsageError } from './errors.ts';
import { formatKeyValues } from './format.ts';

/**
 * Writes one batch file to `nodes/<node>/<file name>` after checking it with the aggregator's
 * parser: a file the aggregator would refuse, or with records it would reject, is not written.
 */
export async function usagePush(
  command: Extract<Command, { name: 'usage push' }>,
  config: PushConfig,
  io: Output,
  json: boolean,
): Promise<void> {
  if (!NODE_NAME.test(command.node)) {
    throw new UsageError(
      `--node must be a node name (letters, digits, '.', '_', '-'; got "${command.node}")`,
    );
  }
  const name = path.basename(command.file);
  if (!USAGE_FILE_NAME.test(name)) {
    throw new UsageError(`the file must be named usage_<YYYY-MM-DD-HH>.otoml (got "${name}")`);
  }
  let content: Buffer;
  try {
    content = await readFile(command.file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${command.file}: ${e.code ?? e.message}`);
  }
  const target = `nodes/${command.node}/${name}`;
  let records: number;
  try {
    const parsed = parseUsageFile(content.toString('utf8'), { node: command.node, path: target });
    if (parsed.rejected.length > 0) {
      throw new CliError(
        `${command.file}: ${parsed.rejected.length} record(s) would be rejected; nothing was written`,
        parsed.rejected.map((r) => `  - ${r.reason}`),
      );
    }
    records = parsed.records.length;
  } catch (err) {
    if (err instanceof UsageFileError) throw new CliError(`${err.message}; nothing was written`);
    throw err;
  }
  const source = createUsageSource(config);
  if (!source) {
    throw new CliError(
      'no billing repository configured: set USAGE_SOURCE=git with BILLING_GIT_URL, or USAGE_SOURCE=forge with FORGE_URL, FORGE_TOKEN and BILLING_REPO',
    );
  }
  try {
    const result = await source.putFile(target, content, command.message ?? `usage: ${command.node} ${name}`);
    const summary = {
      path: target,
      records,
      commit: result.commitSha,
      updated: result.updated,
      repository: source.description,
    };
    if (json) io.out(`${JSON.stringify(summary, null, 2)}\n`);
    else io.out(formatKeyValues(Object.entries(summary)));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`could not write ${target}: ${(err as Error).message}`);
  } finally {
    await source.close?.();
  }
}
