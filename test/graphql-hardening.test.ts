/**
 * GraphQL hardening on real api processes: query limits, introspection and GraphiQL
 * by environment (NODE_ENV test: open; production: admin credentials), field suggestions, the
 * request body limit and request ids.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DEFAULT_QUERY_LIMITS, measureOperation } from '@hero/api/http/query-limits';
import { schema } from '@hero/api/schema';
import { sourceOf } from '@hero/graphql';
import { getIntrospectionQuery, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { ADMIN_SIGN_IN, SIGN_UP, signUpUser } from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';
import { REPO_ROOT } from './support/postgres.ts';

const ADMIN_ORIGIN = 'https://admin.example.org';
const OPS_ORIGIN = 'https://Ops.Example.org:443';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const LIMIT_BYTES = 1 << 20;

let devDb: TestDatabase;
let prodDb: TestDatabase;
/** NODE_ENV=test: introspection and GraphiQL open. */
let dev: ApiProcess;
/** NODE_ENV=production: introspection and GraphiQL need admin credentials. */
let prod: ApiProcess;

beforeAll(async () => {
  [devDb, prodDb] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  const env = { VM_POOL_JSON: '[]', AUTH_RATE_LIMIT_IP: '100000', AUTH_RATE_LIMIT_EMAIL: '1000' };
  [dev, prod] = await Promise.all([
    startApi({ databaseUrl: devDb.url, env }),
    startApi({
      databaseUrl: prodDb.url,
      env: { ...env, NODE_ENV: 'production', API_CORS_ORIGINS: `${ADMIN_ORIGIN}, ${OPS_ORIGIN}/` },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([dev?.stop(), prod?.stop()]);
  await Promise.all([devDb?.drop().catch(() => {}), prodDb?.drop().catch(() => {})]);
});

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** POST /graphql with a raw body and headers; the answer's status, headers and JSON. */
async function post(api: ApiProcess, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const query = (api: ApiProcess, source: string, headers: Record<string, string> = {}, variables = {}) =>
  post(api, JSON.stringify({ query: source, variables }), headers);

const basic = (password: string, user = 'operator') =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const codes = (answer: Answer): string[] =>
  (answer.body.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code);

/** User.billing.user.billing… : deep without any list, so only the depth limit bites. */
function deepQuery(depth: number): string {
  // user(id) is level 1, then billing/user alternate; the innermost level is `id`.
  let inner = 'id';
  for (let level = depth - 1; level >= 2; level--)
    inner = `${level % 2 === 0 ? 'billing' : 'user'} { ${inner} }`;
  return `{ user(id: "1") { ${inner} } }`;
}

// --- the operations the product itself sends (web UI and CLI), read from their sources ---

interface ProductOperation {
  file: string;
  name: string;
  source: string;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return filesUnder(full);
    return /\.(ts|svelte)$/.test(entry) && !entry.endsWith('.test.ts') ? [full] : [];
  });
}

/**
 * Every GraphQL operation written as a template literal in web/src and cli/src, pieces resolved:
 * `${PIECE}` interpolations (the CLI), and the fragments it spreads, appended as the web's
 * `graphql(source, [Fragment])` sends them.
 */
function productOperations(): ProductOperation[] {
  const files = ['web/src', 'cli/src'].flatMap((dir) => filesUnder(path.join(REPO_ROOT, dir)));
  const texts = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
  const pieces = new Map<string, string>();
  const fragments = new Map<string, string>();
  for (const text of texts.values()) {
    for (const m of text.matchAll(/const ([A-Z_]+) =\s*(?:\/\* GraphQL \*\/\s*)?(['`])([\s\S]*?)\2;/g))
      pieces.set(m[1] as string, m[3] as string);
    for (const m of text.matchAll(/`(\s*fragment\s+(\w+)\s+on\b[^`]*)`/g))
      fragments.set(m[2] as string, m[1] as string);
  }
  const resolve = (s: string, depth = 0): string =>
    depth > 5
      ? s
      : s.replace(/\$\{\s*([A-Z_]+)\s*\}/g, (_, n: string) => resolve(pieces.get(n) ?? '', depth + 1));
  const withFragments = (s: string): string => {
    const spread = new Set<string>();
    const visit = (text: string) => {
      for (const [, name] of text.matchAll(/\.\.\.\s*([A-Za-z_]\w*)/g)) {
        const fragment = fragments.get(name as string);
        if (name === 'on' || fragment === undefined || spread.has(name as string)) continue;
        spread.add(name as string);
        visit(fragment);
      }
    };
    visit(s);
    // gql.tada's own directive (an unmasked fragment) is not sent: it takes it out of the document.
    return [s, ...[...spread].map((name) => fragments.get(name))].join('\n').replace(/@_unmask\b/g, '');
  };
  const operations: ProductOperation[] = [];
  for (const [file, text] of texts) {
    for (const m of text.matchAll(/`([^`]*)`/g)) {
      const raw = m[1] as string;
      if (!/^\s*(query|mutation)\b/.test(raw)) continue;
      const source = withFragments(resolve(raw));
      if (source.includes('${')) continue;
      let doc: ReturnType<typeof parse>;
      try {
        doc = parse(source);
      } catch {
        continue; // an example in a comment (admin-fragments.ts), not an operation
      }
      for (const def of doc.definitions)
        if (def.kind === Kind.OPERATION_DEFINITION)
          operations.push({
            file: path.relative(REPO_ROOT, file),
            name: def.name?.value ?? '(anonymous)',
            source,
          });
    }
  }
  return operations;
}

function measure(source: string) {
  const doc = parse(source);
  const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return measureOperation(
    op,
    schema,
    (n) => doc.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === n) as never,
  );
}

const operationNamed = (name: string): string => {
  const found = productOperations().find((o) => o.name === name);
  if (!found) throw new Error(`no product operation named ${name}`);
  return found.source;
};

describe('query limits', () => {
  it('refuses a query deeper than the limit: HTTP 400, QUERY_TOO_DEEP, both figures named', async () => {
    expect(measure(deepQuery(14))).toMatchObject({ depth: 14, cost: 14 });
    for (const api of [dev, prod]) {
      const res = await query(api, deepQuery(14), { 'x-admin-secret': api.adminSecret });
      expect(res.status).toBe(400);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors).toEqual([
        expect.objectContaining({
          message: 'query depth 14 exceeds the limit of 10',
          extensions: { code: 'QUERY_TOO_DEEP' },
        }),
      ]);
    }
    // At the limit it runs (the user is not there: null).
    const atLimit = await query(dev, deepQuery(10), { 'x-admin-secret': dev.adminSecret });
    expect(atLimit.status).toBe(200);
    expect(atLimit.body).toEqual({ data: { user: null } });
  });

  it('refuses a query with 1,000 aliases: HTTP 400, TOO_MANY_ALIASES', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ');
    const res = await query(prod, `{ ${aliases} }`);
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors[0]).toMatchObject({
      message: 'query has 1000 aliases, more than the limit of 30',
      extensions: { code: 'TOO_MANY_ALIASES' },
    });
    // A few are fine.
    const few = await query(prod, '{ a: __typename b: __typename }');
    expect(few.body).toEqual({ data: { a: 'Query', b: 'Query' } });
  });

  it('refuses a query costing more than the limit, before anything runs: HTTP 400, QUERY_TOO_COSTLY', async () => {
    // Lists in lists: users → allocations → user → allocations (each counted ×10).
    const costly = `{ users(first: 100) { edges { node { allocations { user { allocations { poolVm { id } } } } } } } }`;
    const { cost, depth } = measure(costly);
    expect(depth).toBeLessThanOrEqual(DEFAULT_QUERY_LIMITS.maxDepth);
    expect(cost).toBeGreaterThan(DEFAULT_QUERY_LIMITS.maxCost);
    const res = await query(prod, costly, { 'x-admin-secret': prod.adminSecret });
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(codes(res)).toEqual(['QUERY_TOO_COSTLY']);
    expect(res.body.errors[0].message).toMatch(new RegExp(`^query cost ${cost} exceeds the limit of 2000`));
  });

  it('every operation the web UI and the CLI send is within the default limits', () => {
    const operations = productOperations();
    const names = operations.map((o) => o.name);
    // The scan itself works: it finds the big ones.
    expect(names).toEqual(expect.arrayContaining(['AdminUser', 'AdminAllocations', 'UserDashboard', 'Pool']));
    expect(operations.length).toBeGreaterThan(40);
    for (const op of operations) {
      const m = measure(op.source);
      expect(m.depth, `${op.file} ${op.name}`).toBeLessThanOrEqual(DEFAULT_QUERY_LIMITS.maxDepth);
      expect(m.aliases, `${op.file} ${op.name}`).toBeLessThanOrEqual(DEFAULT_QUERY_LIMITS.maxAliases);
      expect(m.cost, `${op.file} ${op.name}`).toBeLessThanOrEqual(DEFAULT_QUERY_LIMITS.maxCost);
    }
  });

  it('the biggest real queries (admin user page, admin allocations page, dashboard) run in production', async () => {
    const user = await signUpUser(prod);
    const admin = { 'x-admin-secret': prod.adminSecret };
    const adminUser = await query(prod, operationNamed('AdminUser'), admin, { id: user.id, first: 20 });
    expect(adminUser.body.errors).toBeUndefined();
    expect(adminUser.body.data.user.email).toBe(user.email);
    const allocations = await query(prod, operationNamed('AdminAllocations'), admin, { first: 50 });
    expect(allocations.body.errors).toBeUndefined();
    expect(allocations.body.data.allocations.edges).toEqual([]);
    const dashboard = await query(
      prod,
      operationNamed('UserDashboard'),
      { authorization: `Bearer ${user.token}` },
      { first: 100 },
    );
    expect(dashboard.body.errors).toBeUndefined();
    expect(dashboard.body.data.me.email).toBe(user.email);
  });
});

describe('introspection and GraphiQL', () => {
  const INTROSPECTION = getIntrospectionQuery({
    descriptions: true,
    inputValueDeprecation: true,
    oneOf: true,
  });

  it('in the test environment, introspection (GraphiQL’s own query) and GraphiQL are open', async () => {
    const res = await query(dev, INTROSPECTION);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.__schema.queryType.name).toBe('Query');
    const page = await fetch(`${dev.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    await page.body?.cancel();
  });

  it('in production, introspection without admin credentials is refused (403, INTROSPECTION_DISABLED)', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { 'x-admin-secret': 'not-the-admin-secret' },
      { authorization: basic('not-the-admin-secret') },
      { authorization: `Bearer ${(await signUpUser(prod)).token}` },
      { authorization: 'Bearer ha_not-a-live-session' },
    ]) {
      for (const source of [INTROSPECTION, '{ __type(name: "User") { fields { name } } }']) {
        const res = await query(prod, source, headers);
        expect(res.status, JSON.stringify(headers)).toBe(403);
        expect(res.body.data).toBeUndefined();
        expect(res.body.errors).toEqual([
          expect.objectContaining({
            message: expect.stringMatching(/^introspection needs admin credentials in production/),
            extensions: { code: 'INTROSPECTION_DISABLED' },
          }),
        ]);
      }
    }
    // __typename is not introspection.
    expect((await query(prod, '{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('in production, introspection works with x-admin-secret, HTTP Basic (any user name) or an admin session', async () => {
    const signIn = await prod.gql(ADMIN_SIGN_IN, { secret: prod.adminSecret });
    const adminToken = member(signIn.data.adminSignIn, 'AdminSignInSuccess').session.token;
    for (const headers of [
      { 'x-admin-secret': prod.adminSecret } as Record<string, string>,
      { authorization: basic(prod.adminSecret) },
      { authorization: basic(prod.adminSecret, '') },
      { authorization: `Bearer ${adminToken}` },
    ]) {
      const res = await query(prod, INTROSPECTION, headers);
      expect(res.status, JSON.stringify(Object.keys(headers))).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.__schema.types.length).toBeGreaterThan(20);
    }
  });

  it('HTTP Basic with the admin secret opens introspection only, not admin operations', async () => {
    const res = await query(prod, '{ pool { id } }', { authorization: basic(prod.adminSecret) });
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  });

  it('in production, GraphiQL answers 401 with a Basic challenge, and the page with the admin secret', async () => {
    const refused = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm="hero-onboarding GraphiQL"/);
    const body = (await refused.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(body.errors[0]?.message).toMatch(/admin secret/);

    const wrong = await fetch(`${prod.url}/graphql`, {
      headers: { accept: 'text/html', authorization: basic('wrong-secret-wrong-secret') },
    });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();

    const page = await fetch(`${prod.url}/graphql`, {
      headers: { accept: 'text/html', authorization: basic(prod.adminSecret) },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('hero-onboarding GraphiQL');
  });

  it('in production, validation errors carry no field suggestions without admin credentials', async () => {
    const typo = '{ poo { id } }';
    expect((await query(dev, typo)).body.errors[0].message).toMatch(/Did you mean "pool"\?/);
    const res = await query(prod, typo);
    expect(res.body.errors[0].message).toBe('Cannot query field "poo" on type "Query".');
    // Nor in the enum values of variables.
    const enumTypo = 'query($s: AllocationStatus) { allocations(status: $s) { edges { cursor } } }';
    const devEnum = await query(dev, enumTypo, {}, { s: 'ACTIV' });
    expect(JSON.stringify(devEnum.body.errors)).toContain('Did you mean');
    const prodEnum = await query(prod, enumTypo, {}, { s: 'ACTIV' });
    expect(prodEnum.body.errors[0].message).toMatch(/"ACTIV"/);
    expect(JSON.stringify(prodEnum.body)).not.toContain('Did you mean');
    // The admin keeps them.
    const asAdmin = await query(prod, typo, { 'x-admin-secret': prod.adminSecret });
    expect(asAdmin.body.errors[0].message).toMatch(/Did you mean "pool"\?/);
  });
});

describe('request body limit', () => {
  const signUpBody = (email: string, padding: number) =>
    JSON.stringify({
      query: sourceOf(SIGN_UP),
      variables: {
        input: { email, displayName: 'Big Body', password: 'a-long-enough-password' },
        pad: 'x'.repeat(padding),
      },
    });
  const signedUp = async (api: ApiProcess, email: string) => {
    const res = await api.admin(
      graphql('query($email: String) { users(email: $email) { edges { cursor } } }'),
      { email },
    );
    return res.data.users.edges.length;
  };

  it('a body over GRAPHQL_MAX_BODY_BYTES answers 413 and does nothing; one under it works', async () => {
    const email = `big-${Date.now()}@example.org`;
    const body = signUpBody(email, LIMIT_BYTES);
    expect(Buffer.byteLength(body)).toBeGreaterThan(LIMIT_BYTES);
    const res = await post(prod, body);
    expect(res.status).toBe(413);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        message: `the request body is larger than the limit of ${LIMIT_BYTES} bytes`,
        extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' },
      }),
    ]);
    expect(await signedUp(prod, email)).toBe(0);

    // The same with room to spare: the padding itself is harmless.
    const small = await post(prod, signUpBody(email, LIMIT_BYTES - 4096));
    expect(small.status).toBe(200);
    expect(small.body.data.signUp.__typename).toBe('SignUpSuccess');
    expect(await signedUp(prod, email)).toBe(1);
  });

  it('a chunked body (no content-length) over the limit answers 413 too, and the client reads it', async () => {
    const email = `chunked-${Date.now()}@example.org`;
    const body = Buffer.from(signUpBody(email, 2 * LIMIT_BYTES));
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(`${prod.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    expect(await signedUp(prod, email)).toBe(0);
    // The server is fine afterwards.
    expect((await query(prod, '{ __typename }')).status).toBe(200);
  });
});

describe('CORS', () => {
  const EVIL = 'https://evil.example.net';
  const corsHeaders = (headers: Headers) =>
    Object.fromEntries([...headers].filter(([name]) => name.startsWith('access-control-')));
  const preflight = (url: string, origin: string) =>
    fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization, x-admin-secret',
      },
    });

  it('without API_CORS_ORIGINS there is no CORS header at all, whatever the Origin', async () => {
    for (const origin of [EVIL, ADMIN_ORIGIN, 'null']) {
      const res = await query(dev, '{ __typename }', { origin });
      expect(res.status).toBe(200);
      expect(corsHeaders(res.headers), origin).toEqual({});
      const pre = await preflight(`${dev.url}/graphql`, origin);
      expect(corsHeaders(pre.headers), origin).toEqual({});
      await pre.body?.cancel();
    }
  });

  it('a configured origin gets exactly itself back, without credentials; answers vary by Origin', async () => {
    for (const origin of [ADMIN_ORIGIN, 'https://ops.example.org']) {
      const res = await query(prod, '{ __typename }', { origin });
      expect(res.body).toEqual({ data: { __typename: 'Query' } });
      expect(corsHeaders(res.headers)).toEqual({
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'content-type, authorization, x-request-id',
        'access-control-expose-headers': 'x-request-id, retry-after',
        'access-control-max-age': '600',
      });
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    }
  });

  it('another origin (or `null`, or a look-alike) gets no Access-Control-Allow-Origin, and the request is not refused', async () => {
    for (const origin of [EVIL, 'null', 'http://admin.example.org', 'https://admin.example.org.evil.net']) {
      const res = await query(prod, '{ __typename }', { origin });
      expect(res.body).toEqual({ data: { __typename: 'Query' } });
      expect(corsHeaders(res.headers), origin).toEqual({});
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    }
  });

  it('preflight: 204 with the allowed methods and headers for a configured origin (not x-admin-secret); nothing for another', async () => {
    const ok = await preflight(`${prod.url}/graphql`, ADMIN_ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ADMIN_ORIGIN);
    expect(ok.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(ok.headers.get('access-control-allow-headers')).toBe('content-type, authorization, x-request-id');
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    await ok.body?.cancel();
    const refused = await preflight(`${prod.url}/graphql`, EVIL);
    expect(corsHeaders(refused.headers)).toEqual({});
    await refused.body?.cancel();
  });

  it('the non-GraphQL routes send no CORS headers, even to a configured origin', async () => {
    for (const [url, init] of [
      [`${prod.url}/webhooks/stripe`, { method: 'POST', body: '{}' }],
      [`${prod.url}/webhooks/stripe`, { method: 'OPTIONS' }],
      [`${prod.url}/healthz`, {}],
      [`${prod.url}/metrics`, {}],
    ] as const) {
      const res = await fetch(url, { ...init, headers: { origin: ADMIN_ORIGIN } });
      expect(corsHeaders(res.headers), `${init.method ?? 'GET'} ${url}`).toEqual({});
      await res.body?.cancel();
    }
  });
});

describe('request ids', () => {
  it('echoes a safe x-request-id, replaces an unsafe or missing one', async () => {
    const safe = await query(dev, '{ __typename }', { 'x-request-id': 'client-42.a:b_c' });
    expect(safe.headers.get('x-request-id')).toBe('client-42.a:b_c');
    for (const unsafe of ['x'.repeat(500), 'has space', 'quote"d', 'new\tline']) {
      const res = await query(dev, '{ __typename }', { 'x-request-id': unsafe });
      expect(res.headers.get('x-request-id'), unsafe).toMatch(UUID);
    }
    const none = await query(dev, '{ __typename }');
    expect(none.headers.get('x-request-id')).toMatch(UUID);
    // On refusals too.
    const refused = await query(prod, '{ __schema { types { name } } }', { 'x-request-id': 'refused-1' });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-request-id')).toBe('refused-1');
  });

  it('is on /healthz, /readyz, /metrics, /webhooks/stripe and GraphiQL answers', async () => {
    for (const [url, init] of [
      [`${dev.url}/healthz`, {}],
      [`${dev.url}/readyz`, {}],
      [`${dev.url}/metrics`, {}],
      [`${dev.url}/webhooks/stripe`, { method: 'POST', body: '{}' }],
      [`${prod.url}/graphql`, { headers: { accept: 'text/html' } }],
    ] as const) {
      const res = await fetch(url, {
        ...init,
        headers: { ...('headers' in init ? init.headers : {}), 'x-request-id': 'probe-1' },
      });
      expect(res.headers.get('x-request-id'), url).toBe('probe-1');
      await res.body?.cancel();
      const fresh = await fetch(url, init);
      expect(fresh.headers.get('x-request-id'), url).toMatch(UUID);
      await fresh.body?.cancel();
    }
  });

  it('every log line of a GraphQL request carries its id', async () => {
    const res = await query(
      dev,
      'mutation { refreshPool(input: { vms: [{ id: "vm-log-1" }] }) { __typename } }',
      { 'x-admin-secret': dev.adminSecret, 'x-request-id': 'log-probe-7' },
    );
    expect(res.body.errors).toBeUndefined();
    const line = await dev.process.waitForLine(/"msg":"pool refreshed"/, 5_000);
    expect(JSON.parse(line)).toMatchObject({ requestId: 'log-probe-7', added: 1 });
  });

  it('a masked INTERNAL_SERVER_ERROR carries the request id, in the answer and in the log', async () => {
    // The database goes away under the api (last test of the file).
    await devDb.drop();
    const res = await query(dev, '{ pool { id } }', { 'x-admin-secret': dev.adminSecret });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    expect(res.body.errors[0]).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: id },
    });
    const line = await dev.process.waitForLine(/unexpected error \(masked in the response\)/, 5_000);
    expect(JSON.parse(line).requestId).toBe(id);
  });
});
