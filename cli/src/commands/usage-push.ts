import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createUsageSource } from '@hero/core/usage/sources/source-config';
import { NODE_NAME, parseUsageFile, USAGE_FILE_NAME, UsageFileError } from '@hero/core/usage/usage-format';
import { defineCommand } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { formatJson, formatKeyValues } from '../format.ts';

/**
 * Writes one batch file to `nodes/<node>/<file name>` after checking it with the aggregator's
 * parser: a file the aggregator would refuse, or with records it would reject, is not written.
 */
export const usagePush = defineCommand({
  name: 'usage push',
  summary: 'write a usage batch file into the billing repository, as a node does',
  description:
    "Checks the file with the aggregator's parser, then writes it to nodes/<node>/<file name> on\n" +
    'BILLING_BRANCH as one commit: through the forge contents API (USAGE_SOURCE=forge) or a git commit\n' +
    'pushed to BILLING_GIT_URL (USAGE_SOURCE=git). The file name must be usage_<YYYY-MM-DD-HH>.otoml.\n' +
    'A file that does not parse, or has records that would be rejected, is refused (every problem is\n' +
    'printed, exit 1) and nothing is written. Talks to the repository, not to the API.',
  options: {
    node: {
      type: 'string',
      value: '<node>',
      required: true,
      help: 'the node directory under nodes/, required',
    },
    file: { type: 'string', value: '<path>', required: true, help: 'the batch file (TOML), required' },
    message: {
      type: 'string',
      value: '<text>',
      help: 'commit message (default "usage: <node> <file name>")',
    },
  },
  parse: (values) => ({
    node: values.required('node').trim(),
    file: values.required('file'),
    message: values.string('message'),
  }),
  uses: 'billing repository',
  async run({ config, json, io }, { node, file, message }) {
    if (!NODE_NAME.test(node))
      throw new UsageError(`--node must be a node name (letters, digits, '.', '_', '-'; got "${node}")`);
    const name = path.basename(file);
    if (!USAGE_FILE_NAME.test(name))
      throw new UsageError(`the file must be named usage_<YYYY-MM-DD-HH>.otoml (got "${name}")`);
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new CliError(`cannot read ${file}: ${e.code ?? e.message}`);
    }
    const target = `nodes/${node}/${name}`;
    let records: number;
    try {
      const parsed = parseUsageFile(content.toString('utf8'), { node, path: target });
      if (parsed.rejected.length > 0) {
        throw new CliError(
          `${file}: ${parsed.rejected.length} record(s) would be rejected; nothing was written`,
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
      const result = await source.putFile(target, content, message ?? `usage: ${node} ${name}`);
      const summary = {
        path: target,
        records,
        commit: result.commitSha,
        updated: result.updated,
        repository: source.description,
      };
      io.out(json ? formatJson(summary) : formatKeyValues(Object.entries(summary)));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`could not write ${target}: ${(err as Error).message}`);
    } finally {
      await source.close?.();
    }
  },
});
