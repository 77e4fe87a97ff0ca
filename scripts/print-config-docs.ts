/**
 * Writes docs/configuration.md from the processes' configuration schemas; with --check, fails
 * when the committed file is stale (run `npm run docs:config` and commit the result).
 * `--file <path>` writes or checks another file (the tests use a temporary one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OUTPUT_FILE, renderConfigDocs } from './lib/config-docs.ts';

const args = process.argv.slice(2);
const fileAt = args.indexOf('--file');
if (fileAt >= 0 && !args[fileAt + 1]) {
  process.stderr.write('usage: print-config-docs [--check] [--file <path>]\n');
  process.exit(2);
}
const file = path.resolve(fileAt >= 0 ? args[fileAt + 1] : path.join(import.meta.dirname, '..', OUTPUT_FILE));
const shown = path.relative(process.cwd(), file) || file;
const text = renderConfigDocs();

if (args.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (committed !== text) {
    const want = text.split('\n');
    const have = committed.split('\n');
    let line = 0;
    while (line < want.length && want[line] === have[line]) line++;
    process.stderr.write(
      `${shown} is stale (first difference at line ${line + 1}): run \`npm run docs:config\` and commit the result\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${shown} is up to date\n`);
} else {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${shown}\n`);
}
