/**
 * Writes the gql.tada introspection typings (the `tadaOutputLocation` of the gql.tada plugin in
 * web/tsconfig.json) from the committed schema (its `schema`, ../schema.graphql), offline; with
 * --check, fails when the committed file is stale (run `npm run gql:generate -w web` and commit).
 *
 * Not `gql-tada generate-output`: that CLI reads tsconfig.json through the TypeScript compiler
 * API, and the `typescript` it resolves from the repository root is TS 7, which has none.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadFromSDL, minifyIntrospection, outputIntrospectionFile } from 'gql.tada/internal';

const webRoot = path.resolve(import.meta.dirname, '..');

interface TadaPluginConfig {
  name: string;
  schema: string;
  tadaOutputLocation: string;
}

// web/tsconfig.json is plain JSON (no comments), so JSON.parse reads it.
const tsconfig = JSON.parse(readFileSync(path.join(webRoot, 'tsconfig.json'), 'utf8')) as {
  compilerOptions?: { plugins?: TadaPluginConfig[] };
};
const plugin = tsconfig.compilerOptions?.plugins?.find((p) => p.name === 'gql.tada/ts-plugin');
if (!plugin?.schema || !plugin.tadaOutputLocation) {
  process.stderr.write(
    'web/tsconfig.json has no gql.tada/ts-plugin entry with schema and tadaOutputLocation\n',
  );
  process.exit(1);
}
const schemaFile = path.resolve(webRoot, plugin.schema);
const outputFile = path.resolve(webRoot, plugin.tadaOutputLocation);

const { introspection } = await loadFromSDL({ file: schemaFile, assumeValid: false }).load();
const typings = outputIntrospectionFile(minifyIntrospection(introspection), {
  fileType: outputFile,
  // The preprocessed form (what the gql.tada CLI writes by default) checks faster.
  shouldPreprocess: true,
  preamble: [
    '/* eslint-disable */',
    '/* prettier-ignore */',
    `/* Generated from ${plugin.schema} by \`npm run gql:generate -w web\`: do not edit. */`,
    '',
  ].join('\n'),
});

const shown = path.relative(process.cwd(), outputFile);
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(outputFile, 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (committed !== typings) {
    process.stderr.write(
      `${shown} is stale (schema.graphql changed): run \`npm run gql:generate -w web\` and commit the result\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${shown} is up to date\n`);
} else {
  writeFileSync(outputFile, typings);
  process.stdout.write(`wrote ${shown}\n`);
}
