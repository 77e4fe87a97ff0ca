/**
 * The production docker-compose.yml and Dockerfile, read as data: restart policies, health
 * checks, the one-shot migration every app service waits for, the api's replicas, secrets only
 * through `*_FILE` variables pointing at mounted compose secrets, and every variable a real
 * setting of the process it is given to (each service's environment, with the compose
 * defaults, is parsed by that process's own configuration loader). Then the compose client's
 * own check (`docker compose config -q`, or v1's `docker-compose config -q`) when one is here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiConfigSchema, loadApiConfig } from '@hero/api/config';
import type { Env } from '@hero/core/lib/env';
import { USAGE_SOURCE_SECRETS } from '@hero/core/usage/sources/source-config';
import { parseWebConfig, webConfigSchema } from '@hero/web/config';
import { loadWorkerConfig, WORKER_SECRETS, workerConfigSchema } from '@hero/workers/config';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadMigrateConfig, migrateConfigSchema } from '../scripts/config.ts';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

interface Healthcheck {
  test?: string | string[];
  disable?: boolean;
}
interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  secrets?: (string | { source: string; target?: string })[];
  ports?: (string | { target: number; published?: string | number })[];
  healthcheck?: Healthcheck;
  restart?: string;
  deploy?: { replicas?: number };
  depends_on?: string[] | Record<string, { condition?: string }>;
}
interface ComposeFile {
  version?: unknown;
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as ComposeFile;
const services = compose.services;
const names = Object.keys(services);

/** The processes the image runs, by service: its config keys, secret-capable names and loader. */
type Process = 'api' | 'worker' | 'web' | 'migrate';
const shapeKeys = (schema: { shape: Record<string, unknown> }) => new Set(Object.keys(schema.shape));
const PROCESSES: Record<
  Process,
  { keys: Set<string>; secrets: readonly string[]; load: (env: Env) => unknown }
> = {
  api: {
    keys: shapeKeys(apiConfigSchema),
    // loadApiConfig's secret-capable names
    secrets: [
      'ADMIN_SECRET',
      'DATABASE_URL',
      'STRIPE_WEBHOOK_SECRET',
      'STRIPE_SECRET_KEY',
      'SMTP_URL',
      ...USAGE_SOURCE_SECRETS,
    ],
    load: loadApiConfig,
  },
  worker: { keys: shapeKeys(workerConfigSchema), secrets: WORKER_SECRETS, load: loadWorkerConfig },
  web: { keys: shapeKeys(webConfigSchema), secrets: [], load: parseWebConfig },
  migrate: { keys: shapeKeys(migrateConfigSchema), secrets: ['DATABASE_URL'], load: loadMigrateConfig },
};

/** Which process a service runs, from its command (`node --import tsx <entry> [job]`). */
function processOf(service: Service): Process | null {
  const entry = service.command?.[3];
  if (entry === 'api/src/main.ts') return 'api';
  if (entry === 'workers/src/main.ts') return 'worker';
  if (entry === 'web/server/main.ts') return 'web';
  if (entry === 'scripts/migrate.ts') return 'migrate';
  return null;
}

/** Every service built from ./Dockerfile: all but postgres. */
const appNames = names.filter((n) => services[n].build !== undefined);
/** The long-running app services (everything but the one-shot migration). */
const daemonNames = appNames.filter((n) => n !== 'migrate');

const env = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(services[name].environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]),
  );
const secretsOf = (name: string): string[] =>
  (services[name].secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source));
const dependsOn = (name: string): Record<string, { condition?: string }> => {
  const d = services[name].depends_on ?? {};
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, {}])) : d;
};
const healthTest = (name: string): string[] => {
  const t = services[name].healthcheck?.test;
  return typeof t === 'string' ? ['CMD-SHELL', t] : (t ?? []);
};

/** Compose interpolation of the forms this file uses (`${NAME}`, `${NAME:-default}`, `$$`), with nothing set. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$/g, (match, _name, fallback) => {
    if (match === '$$') return '$';
    if (match === '$') throw new Error(`unsupported interpolation in ${JSON.stringify(value)}`);
    return fallback ?? '';
  });
}

const SECRET_PATH = /^\/run\/secrets\/([a-z0-9_]+)$/;
/** Names that hold a secret: they may only appear as NAME_FILE. */
const isSecretName = (key: string) =>
  ['DATABASE_URL', 'ADMIN_SECRET', 'STRIPE_WEBHOOK_SECRET', 'POSTGRES_PASSWORD'].includes(key) ||
  /(_TOKEN|_SECRET|PASSWORD)$/.test(key);

describe('docker-compose.yml', () => {
  it('uses the Compose Specification (no top-level version) with the expected services', () => {
    expect(compose.version).toBeUndefined();
    expect(names).toEqual(
      expect.arrayContaining([
        'postgres',
        'migrate',
        'api',
        'worker-auto-release',
        'worker-aggregator',
        'worker-outbox',
        'worker-reconcile',
        'web',
      ]),
    );
    expect(services.postgres.image).toMatch(/^postgres:\d+/);
  });

  it('every service has a restart policy; the one-shot migrate restarts on failure only', () => {
    for (const name of names)
      expect(services[name].restart, name).toMatch(/^(always|unless-stopped|on-failure)/);
    expect(services.migrate.restart).toMatch(/^on-failure(:\d+)?$/);
  });

  it('every long-running service has a health check with a command; migrate is the only exemption', () => {
    for (const name of names.filter((n) => n !== 'migrate')) {
      const hc = services[name].healthcheck;
      expect(hc?.disable, name).not.toBe(true);
      const test = healthTest(name);
      expect(['CMD', 'CMD-SHELL'], name).toContain(test[0]);
      expect(test.slice(1).join(' ').trim(), name).not.toBe('');
    }
    expect(services.migrate.healthcheck).toBeUndefined();
  });

  it('health checks ask each process on its own port (no curl in the image: node fetch)', () => {
    for (const name of daemonNames) {
      const test = healthTest(name);
      expect(test.slice(0, 3), name).toEqual(['CMD', 'node', '-e']);
      const url = /fetch\('(http:\/\/127\.0\.0\.1:(\d+)\/(healthz|readyz))'/.exec(test[3] ?? '');
      expect(url, `${name}: ${test[3]}`).not.toBeNull();
      const port = url![2];
      const e = env(name);
      const expected = {
        api: e.API_PORT ?? '4000',
        worker: e.WORKER_HEALTH_PORT,
        web: e.WEB_PORT ?? '3000',
        migrate: undefined,
      }[processOf(services[name])!];
      expect(port, name).toBe(expected);
    }
  });

  it('every app service waits for the migration to complete, and the database ones for postgres', () => {
    expect(dependsOn('migrate').postgres?.condition).toBe('service_healthy');
    for (const name of daemonNames) {
      expect(dependsOn(name).migrate?.condition, name).toBe('service_completed_successfully');
      if (secretsOf(name).includes('database_url'))
        expect(dependsOn(name).postgres?.condition, name).toBe('service_healthy');
    }
  });

  it('one image for every app service, built from ./Dockerfile, running an entry that exists', () => {
    const images = new Set(appNames.map((n) => services[n].image));
    // compose interpolates the tag (HERO_TAG, default latest)
    expect([...images].map((i) => interpolate(i ?? ''))).toEqual(['hero-onboarding:latest']);
    for (const name of appNames) {
      const build = services[name].build;
      expect(typeof build === 'string' ? build : build?.context, name).toBe('.');
      const command = services[name].command ?? [];
      expect(command.slice(0, 3), name).toEqual(['node', '--import', 'tsx']);
      expect(processOf(services[name]), name).not.toBeNull();
      expect(existsSync(path.join(ROOT, command[3])), command[3]).toBe(true);
    }
    const jobs = appNames
      .filter((n) => processOf(services[n]) === 'worker')
      .map((n) => services[n].command?.[4]);
    expect(jobs.sort()).toEqual(['aggregate', 'auto-release', 'outbox', 'reconcile']);
  });

  it('the api runs 2 replicas without a fixed host port and does not migrate itself', () => {
    expect(services.api.deploy?.replicas).toBe(2);
    expect(services.api.ports ?? []).toEqual([]);
    expect(env('api').MIGRATE_ON_START).toBe('0');
  });

  it('only the web publishes a port, and it talks to the api by its service name', () => {
    expect(names.filter((n) => (services[n].ports ?? []).length > 0)).toEqual(['web']);
    expect(env('web').HERO_API_URL).toBe('http://api:4000');
    expect(String(services.web.ports?.[0])).toMatch(/:3000$/);
  });

  it('every *_FILE variable points at /run/secrets/<name>, mounted on that service and defined at the top', () => {
    const defined = compose.secrets ?? {};
    const used = new Set<string>();
    for (const name of names) {
      const mounted = secretsOf(name);
      for (const s of mounted) {
        expect(defined[s], `${name}: secret ${s} is not defined at the top level`).toBeDefined();
        used.add(s);
      }
      const proc = processOf(services[name]);
      for (const [key, value] of Object.entries(env(name))) {
        // VM_POOL_FILE, PLANS_FILE: settings of their own (a path to a manifest), not secrets.
        if (!key.endsWith('_FILE') || (proc && PROCESSES[proc].keys.has(key))) continue;
        const m = SECRET_PATH.exec(value);
        expect(m, `${name}: ${key}=${value}`).not.toBeNull();
        expect(mounted, `${name}: ${key} reads secret ${m![1]}, not mounted`).toContain(m![1]);
      }
    }
    for (const [s, def] of Object.entries(defined)) {
      expect(used.has(s), `secret ${s} is defined but mounted nowhere`).toBe(true);
      expect(def.file, s).toBe(`./secrets/${s}`);
    }
  });

  it('sets no secret in plain text', () => {
    for (const name of names) {
      for (const [key, value] of Object.entries(env(name))) {
        expect(isSecretName(key), `${name}: ${key} is a secret: use ${key}_FILE and a compose secret`).toBe(
          false,
        );
        expect(value, `${name}: ${key}`).not.toMatch(/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/);
      }
    }
  });

  it('mounts the secrets each process requires', () => {
    const requires = (name: string, secrets: Record<string, string>) => {
      for (const [variable, secret] of Object.entries(secrets)) {
        expect(env(name)[variable], `${name}: ${variable}`).toBe(`/run/secrets/${secret}`);
        expect(secretsOf(name), name).toContain(secret);
      }
    };
    requires('postgres', { POSTGRES_PASSWORD_FILE: 'postgres_password' });
    requires('api', { ADMIN_SECRET_FILE: 'admin_secret', DATABASE_URL_FILE: 'database_url' });
    requires('migrate', { DATABASE_URL_FILE: 'database_url' });
    for (const name of appNames.filter((n) => processOf(services[n]) === 'worker'))
      requires(name, { DATABASE_URL_FILE: 'database_url' });
    requires('worker-aggregator', { FORGE_TOKEN_FILE: 'forge_token' });
    // The web holds no secret (the admin secret is exchanged by the api).
    expect(secretsOf('web')).toEqual([]);
  });

  it('every variable given to a process is one of its settings (NAME_FILE: a secret-capable NAME)', () => {
    for (const name of appNames) {
      const proc = PROCESSES[processOf(services[name])!];
      for (const key of Object.keys(env(name))) {
        const base =
          key.endsWith('_FILE') && proc.secrets.includes(key.slice(0, -5)) ? key.slice(0, -5) : key;
        expect(proc.keys.has(base), `${name}: ${key} is not a setting of ${processOf(services[name])}`).toBe(
          true,
        );
      }
    }
  });

  describe('each service environment, with the compose defaults, is accepted by its process', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hero-compose-secrets-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    // What secrets/README.md tells operators to put in each file (optional ones empty).
    const samples: Record<string, string> = {
      database_url: 'postgres://hero:0123456789abcdef@postgres:5432/hero\n',
      admin_secret: `${'ab'.repeat(32)}\n`,
      forge_token: 'forge-token\n',
      stripe_webhook_secret: '',
      stripe_secret_key: '',
      smtp_url: '',
      deployer_token: '',
      notify_webhook_token: '',
      notify_webhook_secret: '',
    };
    for (const [secret, content] of Object.entries(samples)) writeFileSync(path.join(dir, secret), content);

    it.each(appNames)('%s', (name) => {
      const resolved: Env = {};
      for (const [key, value] of Object.entries(env(name))) {
        const v = interpolate(value);
        const m = SECRET_PATH.exec(v);
        if (m) expect(Object.keys(samples), `${name}: ${key}`).toContain(m[1]);
        resolved[key] = m ? path.join(dir, m[1]) : v;
      }
      const load = PROCESSES[processOf(services[name])!].load;
      expect(() => load(resolved)).not.toThrow();
    });
  });
});

describe('Dockerfile', () => {
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: string[][] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) stages.push([line]);
    else stages.at(-1)?.push(line);
  }
  const runtime = stages.at(-1) ?? [];

  it('every stage is node:24-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM\s+node:24-slim(\s+AS\s+\S+)?$/i);
  });

  it('installs production dependencies only for the runtime, which runs as a non-root user', () => {
    expect(lines.some((l) => /^RUN\s.*\bnpm ci\b.*--omit=dev/.test(l))).toBe(true);
    const users = runtime.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
    expect(runtime.some((l) => /^CMD\s/i.test(l))).toBe(true);
  });

  /** Paths (relative to /app) the runtime stage holds: its own COPYs from the build context, what a
   * stage copied whole (`--from=prod-deps /app/`) brought from the context, and other stages' outputs. */
  const runtimePaths = (() => {
    const copies = (stage: string[]) =>
      stage
        .filter((l) => /^COPY\s/i.test(l))
        .map((l) => {
          const parts = l.split(/\s+/).slice(1);
          const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
          const args = parts.filter((p) => !p.startsWith('--'));
          return { from, sources: args.slice(0, -1), dest: args.at(-1) ?? '' };
        });
    const byName = new Map(stages.map((s) => [/\sAS\s+(\S+)$/i.exec(s[0])?.[1]?.toLowerCase(), s]));
    const fromContext = (stage: string[]) => copies(stage).flatMap((c) => (c.from ? [] : c.sources));
    const out: string[] = [];
    for (const c of copies(runtime)) {
      if (!c.from) out.push(...c.sources);
      else if (c.sources.every((src) => src.replace(/\/$/, '') === '/app'))
        out.push(...fromContext(byName.get(c.from.toLowerCase()) ?? []));
      else out.push(c.dest);
    }
    return out.map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
  })();
  const inImage = (file: string) => runtimePaths.some((p) => file === p || file.startsWith(`${p}/`));

  it('the runtime stage holds the entry of every compose service', () => {
    for (const name of appNames) {
      const entry = services[name].command?.[3] ?? '';
      expect(inImage(entry), `${name}: ${entry} is not copied into the image`).toBe(true);
    }
  });

  it('holds every file the processes import, and every package they import is a production dependency', () => {
    const entries = [...new Set(appNames.map((n) => services[n].command?.[3] ?? ''))];
    entries.push('cli/bin/hero-admin.mjs');
    // The built UI (npm test builds it first): its server code imports packages at run time too.
    if (existsSync(path.join(ROOT, 'web/build/handler.js'))) entries.push('web/build/handler.js');
    const { problems, files, packages } = walkImports(entries);
    if (!packages.has('tsx')) packages.set('tsx', 'docker-compose.yml'); // node --import tsx
    for (const file of files) if (!inImage(file)) problems.push(`${file}: not copied into the runtime stage`);
    for (const [name, importer] of packages) {
      const kind = lockedPackage(importer, name);
      if (kind !== 'production') problems.push(`${importer}: imports ${name}, ${kind}`);
    }
    expect(problems).toEqual([]);
    expect(files.size).toBeGreaterThan(50);
  });
});

const LOCK = (
  JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  }
).packages;

/** How `npm ci --omit=dev` treats a package imported from a file (its workspace's own node_modules first). */
function lockedPackage(importer: string, name: string): string {
  for (const dir of [`${importer.split('/')[0]}/node_modules`, 'node_modules']) {
    const entry = LOCK[`${dir}/${name}`];
    if (entry) return entry.dev ? 'a devDependency (not in the image)' : 'production';
  }
  return 'not in package-lock.json';
}

/**
 * Follows the runtime imports (static, dynamic with a literal, `new URL('…', import.meta.url)`;
 * `import type` is erased) from the entries through the repository's files. Returns the files
 * reached and the packages imported (with one importer each).
 */
function walkImports(entries: string[]): {
  files: Set<string>;
  packages: Map<string, string>;
  problems: string[];
} {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const problems: string[] = [];
  const queue = [...entries];
  const patterns = [
    /^\s*(?:import|export)\s+(?!type\s)[^'";]*?\sfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bnew URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g,
  ];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (files.has(file)) continue;
    files.add(file);
    if (!/\.(ts|js|mjs)$/.test(file)) continue;
    // Comment lines and one-line comments out (JSDoc mentions `import('…')` types).
    const code = readFileSync(path.join(ROOT, file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\*|\/\/)/.test(line))
      .map((line) => line.replace(/\/\*.*?\*\//g, ''))
      .join('\n');
    for (const pattern of patterns) {
      for (const [, spec] of code.matchAll(pattern)) {
        if (spec.startsWith('node:') || isBuiltin(spec)) continue;
        // Not a specifier: code that builds one (`import('${…}')` in generated code).
        if (!/^[@#.\w]/.test(spec) || spec.includes('${')) continue;
        const local = localPath(file, spec);
        if (local === undefined) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (!packages.has(name)) packages.set(name, file);
          continue;
        }
        if (local === null) continue; // a directory (new URL('..', import.meta.url))
        const found = [local, `${local}.ts`, `${local}.js`, `${local}/index.ts`, `${local}/index.js`].find(
          (f) => existsSync(path.join(ROOT, f)),
        );
        if (found) queue.push(found);
        else problems.push(`${file}: cannot resolve ${spec}`);
      }
    }
  }
  return { files, packages, problems };
}

/** A repository path for a local specifier; null for a directory; undefined for a package. */
function localPath(importer: string, spec: string): string | null | undefined {
  let target: string;
  if (spec.startsWith('.')) target = path.posix.join(path.posix.dirname(importer), spec);
  else if (spec.startsWith('@hero/')) {
    // the workspaces' exports: "./*": "./src/*"
    const [, workspace, ...rest] = spec.split('/');
    target = path.posix.join(workspace, 'src', ...rest);
  } else if (spec.startsWith('#lib/') && importer.startsWith('web/')) {
    target = path.posix.join('web/src/lib', spec.slice('#lib/'.length)); // web/package.json "imports"
  } else return undefined;
  return spec.endsWith('/') || spec === '..' || spec === '.' ? null : target;
}

/** `docker compose` (v2) when it answers, else `docker-compose` (v1), else none. */
function composeClient(): string[] | null {
  const works = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  if (works('docker', ['compose', 'version'])) return ['docker', 'compose'];
  if (works('docker-compose', ['version'])) return ['docker-compose'];
  return null;
}

describe('the compose client', () => {
  const client = composeClient();
  if (!client)
    console.log('compose test: neither `docker compose` nor `docker-compose` is installed: skipped');

  it.skipIf(!client)('`config -q` accepts the file (the secret files need not exist)', () => {
    const [cmd, ...args] = client!;
    const run = spawnSync(cmd, [...args, '-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
