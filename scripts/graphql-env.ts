/**
 * Writes the gql.tada introspection typings every client's `graphql()` tag reads (@hero/graphql:
 * graphql/src/graphql-env.d.ts) from the committed schema.graphql, offline; with --check, fails
 * when the committed file is stale (run `npm run gql:generate` and commit the result).
 *
 * Not `gql-tada generate-output`: that CLI reads tsconfig.json through the TypeScript compiler
 * API, and the `typescript` it resolves from the repository root is TS 7, which has none.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadFromSDL, minifyIntrospection, outputIntrospectionFile } from 'gql.tada/internal';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCHEMA = 'schema.graphql';
const OUTPUT = 'graphql/src/graphql-env.d.ts';

// The gql.tada editor plugin of web/tsconfig.json (plain JSON) must read the same two files.
const webTsconfig = JSON.parse(readFileSync(path.join(ROOT, 'web/tsconfig.json'), 'utf8')) as {
  compilerOptions?: { plugins?: { name: string; schema?: string; tadaOutputLocation?: string }[] };
};
const plugin = webTsconfig.compilerOptions?.plugins?.find((p) => p.name === 'gql.tada/ts-plugin');
const fromWeb = (file: string | undefined) => file && path.relative(ROOT, path.resolve(ROOT, 'web', file));
if (fromWeb(plugin?.schema) !== SCHEMA || fromWeb(plugin?.tadaOutputLocation) !== OUTPUT) {
  process.stderr.write(
    `web/tsconfig.json: the gql.tada/ts-plugin entry must have schema ../${SCHEMA} and tadaOutputLocation ../${OUTPUT}\n`,
  );
  process.exit(1);
}

const { introspection } = await loadFromSDL({ file: path.join(ROOT, SCHEMA), assumeValid: false }).load();
const typings = outputIntrospectionFile(minifyIntrospection(introspection), {
  fileType: OUTPUT,
  // The preprocessed form (what the gql.tada CLI writes by default) checks faster.
  shouldPreprocess: true,
  preamble: [
    '/* eslint-disable */',
    '/* prettier-ignore */',
    `/* Generated from ${SCHEMA} by \`npm run gql:generate\`: do not edit. */`,
    '',
  ].join('\n'),
});

const outputFile = path.join(ROOT, OUTPUT);
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(outputFile, 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (committed !== typings) {
    process.stderr.write(
      `${OUTPUT} is stale (${SCHEMA} changed): run \`npm run gql:generate\` and commit the result\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${OUTPUT} is up to date\n`);
} else {
  writeFileSync(outputFile, typings);
  process.stdout.write(`wrote ${OUTPUT}\n`);
}
