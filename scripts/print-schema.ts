/**
 * Prints the GraphQL schema to schema.graphql; with --check, fails when the committed file is
 * stale (run `npm run schema:print` and commit the result).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { printedSchema } from '@hero/api/schema';

const file = path.resolve(import.meta.dirname, '..', 'schema.graphql');
const sdl = printedSchema();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (committed !== sdl) {
    process.stderr.write('schema.graphql is stale: run `npm run schema:print` and commit the result\n');
    process.exit(1);
  }
  process.stdout.write('schema.graphql is up to date\n');
} else {
  writeFileSync(file, sdl);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
