import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { API_SECRETS, apiConfigSchema } from '@hero/api/config';
import { CLI_SECRETS, cliConfigSchema, pushConfigSchema } from '@hero/cli/config';
import { USAGE_SOURCE_SECRETS } from '@hero/core/usage/sources/source-config';
import { webConfigSchema } from '@hero/web/config';
import { WORKER_SECRETS, workerConfigSchema } from '@hero/workers/config';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MIGRATE_SECRETS, migrateConfigSchema, START_SECRETS, startConfigSchema } from './config.ts';
import { CONFIG_SECTIONS, OUTPUT_FILE, renderConfigDocs, renderSection } from './lib/config-docs.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'print-config-docs.ts');
const doc = renderConfigDocs();

/** Every process schema, the section documenting it and its secret-capable names. */
const SCHEMAS = [
  { section: 'api', schema: apiConfigSchema, secrets: API_SECRETS },
  { section: 'workers', schema: workerConfigSchema, secrets: WORKER_SECRETS },
  { section: 'billing repository', schema: pushConfigSchema, secrets: USAGE_SOURCE_SECRETS },
  { section: 'npm start', schema: startConfigSchema, secrets: START_SECRETS },
  { section: 'npm run migrate', schema: migrateConfigSchema, secrets: MIGRATE_SECRETS },
  { section: 'web', schema: webConfigSchema, secrets: [] },
  { section: 'cli', schema: cliConfigSchema, secrets: CLI_SECRETS },
  { section: 'cli', schema: pushConfigSchema, secrets: USAGE_SOURCE_SECRETS },
];

/** The table rows of one `## title` section of the generated document. */
function rowsOf(title: string): string[] {
  const start = doc.indexOf(`\n## ${title}\n`);
  expect(start, `section ${title}`).toBeGreaterThan(0);
  const end = doc.indexOf('\n## ', start + 1);
  return doc
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('| `'));
}

/** The default column of the row that documents `name` alone. */
function defaultIn(title: string, name: string): string {
  const row = rowsOf(title).find(
    (line) => line.startsWith(`| \`${name}\` |`) || line.startsWith(`| \`${name}\` (\`_FILE\`) |`),
  );
  expect(row, `${title}: ${name}`).toBeDefined();
  return row!.split(' | ')[1];
}

function run(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('docs/configuration.md from the configuration schemas', () => {
  it('documents every variable of every schema in its section, secrets with their _FILE variant', () => {
    for (const { section, schema, secrets } of SCHEMAS) {
      const rows = rowsOf(section);
      for (const name of Object.keys(schema.shape)) {
        const mark = (secrets as readonly string[]).includes(name) ? ' (`_FILE`)' : '';
        const row = rows.find((line) => line.includes(`\`${name}\`${mark}`));
        expect(row, `${section}: ${name}`).toBeDefined();
        if (!mark)
          expect(row, `${section}: ${name} is not secret-capable`).not.toContain(`\`${name}\` (\`_FILE\`)`);
      }
    }
    // Nothing documented that no schema has.
    const documented = CONFIG_SECTIONS.flatMap((s) => s.parts.map((p) => p.schema));
    for (const schema of documented) expect(SCHEMAS.map((s) => s.schema)).toContain(schema);
  });

  it('reads each default from the schema, as it is written in the environment', () => {
    expect(defaultIn('api', 'API_PORT')).toBe('`4000`');
    expect(defaultIn('api', 'DATABASE_URL')).toBe('required');
    expect(defaultIn('api', 'PROVISIONER_DEMO')).toBe('`0`');
    expect(defaultIn('api', 'MIGRATE_ON_START')).toBe('`1`');
    expect(defaultIn('api', 'TRUSTED_PROXIES')).toBe('`127.0.0.1,::1`');
    expect(defaultIn('api', 'API_CORS_ORIGINS')).toBe('—');
    expect(defaultIn('api', 'GRAPHQL_MAX_BODY_BYTES')).toBe('`1048576`');
    expect(defaultIn('api', 'DEFAULT_CURRENCY')).toBe('`EUR`');
    expect(defaultIn('workers', 'WORKER_HEALTH_PORT')).toBe('—');
    expect(defaultIn('billing repository', 'USAGE_GIT_CACHE_DIR')).toBe('`.data/usage-git-cache`');
    expect(defaultIn('npm start', 'DATA_DIR')).toBe('`.data`');
    expect(defaultIn('npm start', 'DATABASE_URL')).toBe('—');
    expect(defaultIn('npm run migrate', 'DATABASE_URL')).toBe('required');
    expect(defaultIn('web', 'HERO_API_URL')).toBe('`http://127.0.0.1:4000`');
    expect(defaultIn('web', 'WEB_ORIGIN')).toBe('—');
    expect(defaultIn('cli', 'HERO_API_TIMEOUT_MS')).toBe('`60000`');
  });

  it('refuses a variable without a description, and a shared one described differently', () => {
    const bare = z.object({ DESCRIBED: z.string().describe('has one'), BARE: z.string().optional() });
    expect(() =>
      renderSection({ title: 'x', source: 'x.ts', parts: [{ schema: bare, secrets: [] }] }),
    ).toThrow(/x: BARE has no description/);
    const mine = z.object({ SHARED: z.string().describe('mine') });
    const theirs = z.object({ SHARED: z.string().describe('theirs') });
    expect(() =>
      renderSection({
        title: 'x',
        source: 'x.ts',
        parts: [{ schema: mine, secrets: [], shared: { from: theirs, section: 'y', meaning: 'm' } }],
      }),
    ).toThrow(/SHARED is described differently/);
  });

  it(`the committed ${OUTPUT_FILE} is the generated one`, () => {
    expect(readFileSync(path.join(ROOT, OUTPUT_FILE), 'utf8')).toBe(doc);
  });

  describe('the script', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'config-docs-'));
    const file = path.join(dir, 'configuration.md');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('writes the file, and --check passes on it', () => {
      const written = run('--file', file);
      expect(written.status, written.stderr).toBe(0);
      expect(readFileSync(file, 'utf8')).toBe(doc);
      const checked = run('--check', '--file', file);
      expect(checked.status, checked.stderr).toBe(0);
      expect(checked.stdout).toContain('is up to date');
    });

    it('--check exits 1 on a stale or missing file, saying what to run', () => {
      writeFileSync(file, doc.replace('| `API_PORT` | `4000` |', '| `API_PORT` | `4001` |'));
      const stale = run('--check', '--file', file);
      expect(stale.status).toBe(1);
      expect(stale.stderr).toMatch(
        /configuration\.md is stale \(first difference at line \d+\): run `npm run docs:config`/,
      );
      rmSync(file);
      expect(run('--check', '--file', file).status).toBe(1);
    });

    it('--file without a path is a usage error', () => {
      expect(run('--file').status).toBe(2);
    });
  });
});
