/**
 * docs/configuration.md, rendered from the processes' zod schemas: every variable with its
 * default (read from the schema) and its meaning (the schema's `.describe()` text). The prose
 * around the tables lives here; the variables live only in the schemas.
 */
import { API_SECRETS, apiConfigSchema } from '@hero/api/config';
import { CLI_SECRETS, cliConfigSchema, pushConfigSchema } from '@hero/cli/config';
import { USAGE_SOURCE_SECRETS } from '@hero/core/usage/sources/source-config';
import { webConfigSchema } from '@hero/web/config';
import { WORKER_SECRETS, workerConfigSchema } from '@hero/workers/config';
import { MIGRATE_SECRETS, migrateConfigSchema, START_SECRETS, startConfigSchema } from '../config.ts';

/** What the renderer needs of a zod 4 schema: its internals and its registered description. */
interface ZodLike {
  _zod: { def: { type: string; innerType?: ZodLike; in?: ZodLike; defaultValue?: unknown } };
  description?: string;
  safeParse(input: unknown): { success: boolean };
}

interface ObjectSchema {
  shape: Record<string, unknown>;
}

/** Variables a process shares with another section: one row there, pointing at that section. */
interface SharedGroup {
  /** The schema that documents them (its descriptions must be the same as this process's). */
  from: ObjectSchema;
  /** Title of the section that documents them. */
  section: string;
  /** What they are to this process. */
  meaning: string;
}

interface SchemaPart {
  schema: ObjectSchema;
  /** Names parseEnv also reads from `NAME_FILE`. */
  secrets: readonly string[];
  shared?: SharedGroup;
}

export interface ConfigSection {
  /** The heading; its GitHub anchor is what other documents link to. */
  title: string;
  /** Where the schema is and who reads it (Markdown). */
  source: string;
  intro?: string;
  parts: SchemaPart[];
  notes?: string;
}

export const OUTPUT_FILE = 'docs/configuration.md';

const usageSource = { from: pushConfigSchema, section: 'billing repository' };

export const CONFIG_SECTIONS: ConfigSection[] = [
  {
    title: 'api',
    source: '`apiConfigSchema` in `api/src/config.ts`, parsed when `api/src/main.ts` starts.',
    intro: `The plan catalog format is in [money.md](money.md#plans), the pool manifest format in
      [pool.md](pool.md), the GraphQL limits in [graphql-api.md](graphql-api.md#limits-and-introspection).`,
    parts: [
      {
        schema: apiConfigSchema,
        secrets: API_SECRETS,
        shared: {
          ...usageSource,
          meaning: `the billing repository \`aggregateNow\` reads; none set: \`aggregateNow\` answers
            \`USAGE_SOURCE_UNAVAILABLE\` (503)`,
        },
      },
    ],
  },
  {
    title: 'workers',
    source: `\`workerConfigSchema\` in \`workers/src/config.ts\`, parsed when \`workers/src/main.ts <job>\`
      starts; every job reads the whole set.`,
    parts: [
      {
        schema: workerConfigSchema,
        secrets: WORKER_SECRETS,
        shared: {
          ...usageSource,
          meaning: `the billing repository the \`aggregate\` worker reads; none set: the \`aggregate\` worker
            refuses to start (the other workers do not need it)`,
        },
      },
    ],
  },
  {
    title: 'billing repository',
    source: `\`usageSourceEnv\` in \`core/src/usage/sources/source-config.ts\` (described in
      \`core/src/lib/usage-source-env.ts\`), spread into the api, workers and cli schemas.`,
    intro: `Where the usage batch files are: read by the api (\`aggregateNow\`) and the \`aggregate\` worker,
      written by \`hero-admin usage push\`; the same names and defaults in all three. A half-configured
      source (e.g. \`USAGE_SOURCE=forge\` without \`FORGE_TOKEN\`) is refused at start-up by every process
      that parses it, the api and every worker included. How the aggregator reads it:
      [aggregation.md](aggregation.md); the forge API it relies on: [forge-api.md](forge-api.md).`,
    parts: [{ schema: pushConfigSchema, secrets: USAGE_SOURCE_SECRETS }],
  },
  {
    title: 'npm start',
    source: '`startConfigSchema` in `scripts/config.ts`, parsed by `scripts/start.ts`.',
    intro: `\`npm start\` passes every other variable (\`API_HOST\`, \`NODE_ENV\`, \`WORKER_HEALTH_PORT\`,
      \`EXPIRY_WARNING_HOURS\`, \`AGGREGATE_INTERVAL_MS\`, \`AUTO_RELEASE_INTERVAL_MS\`,
      \`NOTIFY_WEBHOOK_URL\`, …) through to the processes it starts; they always get \`MIGRATE_ON_START=0\`
      because the supervisor migrates first. It runs the api, the \`outbox\`, \`auto-release\`, \`reconcile\`
      and \`aggregate\` workers (\`aggregate\` only when there is a usage source: see below the table) and
      the web UI (with \`HERO_API_URL=http://127.0.0.1:<API_PORT>\` and \`WEB_PORT\`, without the database
      URL and the admin secret; the other [web](#web) variables pass through). With neither
      \`PLANS_JSON\` nor \`PLANS_FILE\` set, the api gets \`PLANS_FILE=examples/plans.json\`, so that plans
      can be tried out; without \`SIGNUP_TRIAL\`, it gets \`SIGNUP_TRIAL="1 VM for 24h"\` (said in the
      banner), so that a new user can get a VM at once.`,
    parts: [{ schema: startConfigSchema, secrets: START_SECRETS }],
    notes: `The usage source: with none of \`USAGE_SOURCE\`, \`BILLING_GIT_URL\` and \`FORGE_URL\` set, a bare
      repository \`DATA_DIR/billing.git\` is created on first start (initial branch \`BILLING_BRANCH\`,
      default \`main\`) and the api and workers get \`USAGE_SOURCE=git\` and
      \`BILLING_GIT_URL=<its absolute path>\` (printed at start-up); git not installed: no billing
      repository, the \`aggregate\` worker is not started and \`aggregateNow\` answers
      \`USAGE_SOURCE_UNAVAILABLE\`; any of them set: your [billing repository](#billing-repository)
      settings are passed through unchanged.`,
  },
  {
    title: 'npm run migrate',
    source: `\`migrateConfigSchema\` in \`scripts/config.ts\`, parsed by \`scripts/migrate.ts\` (also the
      compose \`migrate\` service).`,
    parts: [{ schema: migrateConfigSchema, secrets: MIGRATE_SECRETS }],
  },
  {
    title: 'web',
    source: `\`webConfigSchema\` in \`web/src/lib/server/config.ts\`, parsed by \`web/server/main.ts\` at
      start-up; a bad value exits 1 with one line per problem. It reads no \`_FILE\` variables: the web
      holds no secret.`,
    parts: [{ schema: webConfigSchema, secrets: [] }],
  },
  {
    title: 'cli',
    source: `\`cliConfigSchema\` and \`pushConfigSchema\` in \`cli/src/config.ts\`, parsed by \`hero-admin\`
      before a command runs (not for \`--help\`); a bad value exits 1 with one line per problem. The
      commands are in [cli.md](cli.md).`,
    parts: [
      { schema: cliConfigSchema, secrets: CLI_SECRETS },
      {
        schema: pushConfigSchema,
        secrets: USAGE_SOURCE_SECRETS,
        shared: {
          ...usageSource,
          meaning: `\`usage push\` only: the repository it writes to (it does not talk to the API, so it
            reads none of the variables above)`,
        },
      },
    ],
  },
];

const HEADER = `<!-- Generated by scripts/print-config-docs.ts from the zod schemas: edit a variable's .describe() text there, then run \`npm run docs:config\`. -->

# Configuration

Every process parses its environment once at start-up; on bad configuration it exits 1 with
one line per problem. Every secret, marked (\`_FILE\`) below, can also be given as \`NAME_FILE\`:
a path to a file holding it (one trailing newline is dropped; a path with \`..\` is refused, and
so is setting both \`NAME\` and \`NAME_FILE\`). Empty values count as unset.

Elsewhere: the variables \`docker-compose.yml\` reads in [deploy.md](deploy.md#compose-settings),
those of the tests in [testing.md](testing.md#variables) and of the benchmarks in
[benchmarks.md](benchmarks.md#variables).
`;

function def(schema: ZodLike) {
  return schema._zod.def;
}

/** The default a variable takes when unset, or undefined when it has none. */
export function defaultOf(schema: ZodLike): { value: unknown } | undefined {
  let current: ZodLike | undefined = schema;
  while (current) {
    const d = def(current);
    if (d.type === 'default' || d.type === 'prefault') return { value: d.defaultValue };
    // A transform's default sits on its input side; wrappers keep theirs inside.
    current = d.type === 'pipe' ? d.in : d.innerType;
  }
  return undefined;
}

function code(text: string): string {
  return `\`${text}\``;
}

/** A default as it is written in the environment: booleans as 1/0, an empty string as unset. */
function formatDefault(schema: ZodLike): string {
  const found = defaultOf(schema);
  if (found === undefined) return schema.safeParse(undefined).success ? '—' : 'required';
  const { value } = found;
  if (typeof value === 'boolean') return code(value ? '1' : '0');
  if (value === '') return '—';
  return code(String(value));
}

function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

function variable(name: string, secrets: readonly string[]): string {
  return secrets.includes(name) ? `${code(name)} (${code('_FILE')})` : code(name);
}

/** GitHub's anchor for a heading of plain words. */
export function anchorOf(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function describedBy(section: ConfigSection, name: string, schema: ZodLike): string {
  const text = schema.description?.trim();
  if (!text) {
    throw new Error(
      `${section.title}: ${name} has no description: add .describe('…') to it in its schema (${section.source})`,
    );
  }
  return text;
}

function renderRows(section: ConfigSection, part: SchemaPart): string[] {
  const rows: string[] = [];
  const shape = part.schema.shape as Record<string, ZodLike>;
  const shared = part.shared;
  const sharedKeys = shared ? Object.keys(shared.from.shape) : [];
  let sharedDone = false;
  for (const [name, schema] of Object.entries(shape)) {
    if (sharedKeys.includes(name) && shared) {
      const theirs = (shared.from.shape as Record<string, ZodLike>)[name];
      if (describedBy(section, name, schema) !== theirs.description?.trim()) {
        throw new Error(
          `${section.title}: ${name} is described differently from the ${shared.section} section`,
        );
      }
      if (sharedDone) continue;
      sharedDone = true;
      const names = Object.keys(shape)
        .filter((key) => sharedKeys.includes(key))
        .map((key) => variable(key, part.secrets))
        .join(', ');
      rows.push(
        `| ${names} | see [${shared.section}](#${anchorOf(shared.section)}) | ${cell(shared.meaning)} |`,
      );
      continue;
    }
    rows.push(
      `| ${variable(name, part.secrets)} | ${formatDefault(schema)} | ${cell(describedBy(section, name, schema))} |`,
    );
  }
  return rows;
}

/** Prose as paragraphs of lines of at most `width` columns, however the source string is broken. */
export function wrap(text: string, width = 100): string {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) => {
      const lines: string[] = [];
      let line = '';
      // A code span is one word: a line break inside it would read as a space in the source.
      for (const word of paragraph.replace(/\s+/g, ' ').match(/(?:`[^`]*`|[^\s`]|`)+/g) ?? []) {
        if (line && line.length + 1 + word.length > width) {
          lines.push(line);
          line = word;
        } else line = line ? `${line} ${word}` : word;
      }
      if (line) lines.push(line);
      return lines.join('\n');
    })
    .join('\n\n');
}

export function renderSection(section: ConfigSection): string {
  const out = [`## ${section.title}`, '', wrap(section.source), ''];
  if (section.intro) out.push(wrap(section.intro), '');
  out.push('| variable | default | meaning |', '|---|---|---|');
  for (const part of section.parts) out.push(...renderRows(section, part));
  out.push('');
  if (section.notes) out.push(wrap(section.notes), '');
  return out.join('\n');
}

/** The whole of docs/configuration.md. */
export function renderConfigDocs(sections: ConfigSection[] = CONFIG_SECTIONS): string {
  return `${HEADER}\n${sections.map(renderSection).join('\n').trimEnd()}\n`;
}
