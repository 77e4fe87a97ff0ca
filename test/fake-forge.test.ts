import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeForge, startFakeForge } from './support/forge/fake-forge.ts';

const execFileP = promisify(execFile);

// ---------------------------------------------------------------------------------------------------
// Forgejo v12's swagger definitions as JSON Schema.
//
// Swagger 2.0 cannot say "nullable", but Go's encoding/json writes null for nil pointers and slices:
// a property may be null when it is a $ref (a pointer to a struct), an array (a slice) or an item of
// an array of $ref (a slice of pointers), documented as "otherwise null", or one of the *string
// fields listed below. Stricter than swagger on one point:
// every declared property must be present and no other may appear (Go writes every field of these
// structs), so a fake inventing or dropping a field fails here. `User` is left as swagger has it.

const SWAGGER = path.resolve(import.meta.dirname, 'fixtures/forgejo-swagger-v12.json');
const swagger = JSON.parse(readFileSync(SWAGGER, 'utf8')) as { definitions: Record<string, any> };
const GO_POINTER_STRINGS: Record<string, string[]> = {
  ContentsResponse: ['url', 'html_url', 'git_url', 'download_url'],
  FileLinksResponse: ['self', 'git', 'html'],
};
const LOOSE = new Set(['User']);

function forgejoDefinitions(): Record<string, any> {
  const defs = structuredClone(swagger.definitions);
  for (const [name, def] of Object.entries(defs)) {
    if (!def.properties) continue;
    for (const [prop, schema] of Object.entries<any>(def.properties)) {
      const nullable =
        schema.$ref !== undefined ||
        schema.type === 'array' ||
        /\bnull\b/.test(schema.description ?? '') ||
        GO_POINTER_STRINGS[name]?.includes(prop);
      if (schema.type === 'array' && schema.items?.$ref)
        schema.items = { anyOf: [schema.items, { type: 'null' }] };
      if (nullable) def.properties[prop] = { anyOf: [schema, { type: 'null' }] };
    }
    if (!LOOSE.has(name)) {
      def.additionalProperties = false;
      def.required = Object.keys(def.properties);
    }
  }
  return defs;
}

const ajv = new Ajv({ strict: false, allErrors: true });
const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (a: Ajv) => Ajv;
addFormats(ajv);
for (const format of ['int64', 'uint64', 'int32']) ajv.addFormat(format, true);
ajv.addSchema({ $id: 'forgejo', definitions: forgejoDefinitions() });

const validators = new Map<string, ValidateFunction>();
/** `Name` or `Name[]` */
function validate(schema: string, data: unknown) {
  let v = validators.get(schema);
  if (!v) {
    const ref = { $ref: `forgejo#/definitions/${schema.replace('[]', '')}` };
    v = ajv.compile(schema.endsWith('[]') ? { type: 'array', items: ref } : ref);
    validators.set(schema, v);
  }
  if (!v(data))
    throw new Error(
      `response does not match ${schema}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(data).slice(0, 800)}`,
    );
}

it('the schema check itself rejects a wrong shape', () => {
  expect(() =>
    validate('GitTreeResponse', { sha: 'x', url: 'u', tree: [], truncated: 'no', page: 1 }),
  ).toThrow(/truncated|total_count/);
  expect(() => validate('ServerVersion', { version: '1', extra: true })).toThrow(/additional/);
  expect(() => validate('ContentsResponse[]', [{ name: 1 }])).toThrow();
});

// ---------------------------------------------------------------------------------------------------
// helpers

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

interface CallOptions {
  method?: string;
  /** null = anonymous; default forge.token with `Authorization: token …` */
  token?: string | null;
  authorization?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** swagger definition every 2xx JSON answer must match (`Name` or `Name[]`) */
  schema?: string;
}

/** One API call; 2xx JSON answers are validated against `schema`, error answers against APIError/APINotFound. */
async function call(forge: FakeForge, apiPath: string, o: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? forge.token : o.token;
  if (o.authorization) headers.authorization = o.authorization;
  else if (token !== null) headers.authorization = `token ${token}`;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${forge.apiUrl}${apiPath}`, { method: o.method ?? 'GET', headers, body });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  const json = isJson ? JSON.parse(text) : undefined;
  if (isJson && res.status >= 200 && res.status < 300) {
    if (!o.schema) throw new Error(`unvalidated 2xx JSON answer for ${apiPath}`);
    validate(o.schema, json);
  }
  if (isJson && res.status >= 400 && json !== null)
    validate('errors' in json ? 'APINotFound' : 'APIError', json);
  return { status: res.status, headers: res.headers, text, json };
}

async function git(forge: FakeForge, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('git', [`--git-dir=${forge.gitDir}`, ...args], { maxBuffer: 1 << 28 });
  return stdout;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const SWAGGER_URL = (forge: FakeForge) => `${forge.rootUrl}/api/swagger`;

/** A raw HTTP GET that keeps the path as written (fetch would normalise `..`). */
function rawGet(forge: FakeForge, p: string, token: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(forge.rootUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { hostname, port, path: p, headers: { authorization: `token ${token}` } },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------

describe('an empty repository', () => {
  let forge: FakeForge;
  const R = '/repos/billing/usage-ledger';
  beforeAll(async () => {
    forge = await startFakeForge();
  });
  afterAll(() => forge.stop());

  it('answers the version, and every read the way Forgejo does for an empty repo', async () => {
    const v = await call(forge, '/version', { schema: 'ServerVersion' });
    expect(v.json).toEqual({ version: '12.0.0+fake' });
    expect(v.headers.get('content-type')).toBe('application/json;charset=utf-8');

    expect((await call(forge, `${R}/contents`, { schema: 'ContentsResponse[]' })).json).toEqual([]);
    const file = await call(forge, `${R}/contents/nodes/a/file.otoml?ref=whatever`, {
      schema: 'ContentsResponse[]',
    });
    expect([file.status, file.json]).toEqual([200, []]);

    const commits = await call(forge, `${R}/commits`);
    expect(commits.status).toBe(409);
    expect(commits.json).toEqual({ message: 'Git Repository is empty.', url: SWAGGER_URL(forge) });

    const tree = await call(forge, `${R}/git/trees/main?recursive=true`);
    expect([tree.status, tree.json.message]).toEqual([400, 'sha not found [main]']);

    const branch = await call(forge, `${R}/branches/main`);
    expect(branch.status).toBe(404);
    expect(branch.json).toEqual({
      errors: ['branch does not exist [name: main]'],
      message: "The target couldn't be found.",
      url: SWAGGER_URL(forge),
    });

    const raw = await call(forge, `${R}/raw/a.toml?ref=main`);
    expect(raw.status).toBe(404);
  });

  it('accepts a create on the empty repo, which makes the branch', async () => {
    const created = await call(forge, `${R}/contents/nodes/node-a/first.otoml`, {
      method: 'POST',
      body: { content: b64('x = 1\n'), message: 'first' },
      schema: 'FileResponse',
    });
    expect(created.status).toBe(201);
    expect(created.json.commit.parents).toEqual([]);
    expect(created.json.commit.message).toBe('first\n');
    expect(await git(forge, 'show', 'main:nodes/node-a/first.otoml')).toBe('x = 1\n');
    expect((await git(forge, 'rev-parse', 'main')).trim()).toBe(created.json.commit.sha);
    const commits = await call(forge, `${R}/commits?stat=false`, { schema: 'Commit[]' });
    expect(commits.json.map((c: any) => c.sha)).toEqual([created.json.commit.sha]);
  });
});

it('keeps the repository in `dir` across restarts and leaves it there', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-forge-dir-'));
  try {
    const first = await startFakeForge({ dir: path.join(dir, 'repo.git'), defaultBranch: 'trunk' });
    const sha = await first.commitFiles({ 'kept.txt': 'kept' });
    await first.stop();
    const second = await startFakeForge({ dir: path.join(dir, 'repo.git'), defaultBranch: 'trunk' });
    const r = await call(second, '/repos/billing/usage-ledger/branches/trunk', { schema: 'Branch' });
    expect(r.json.commit.id).toBe(sha);
    await second.stop();
    expect(await git(second, 'show', 'trunk:kept.txt')).toBe('kept');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('reads of a seeded repository', () => {
  let forge: FakeForge;
  const R = '/repos/billing/usage-ledger';
  let seed1: string;
  let seed2: string;
  const files: Record<string, string> = {
    'README.md': '# ledger\n',
    'nodes/node-a/usage_2025-03-14-10.otoml': 'node = "a"\nhour = 10\n',
    'nodes/node-a/usage_2025-03-14-11.otoml': 'node = "a"\nhour = 11\n',
    'nodes/node-b/usage_2025-03-14-10.otoml': 'node = "b"\nhour = 10\n',
    'nodes/node-c/sub/deep.otoml': 'deep = true\n',
  };
  const hot: string[] = [];
  let deleted: string;
  let restored: string;

  beforeAll(async () => {
    forge = await startFakeForge();
    seed1 = await forge.commitFiles(files, { message: 'seed' });
    seed2 = await forge.commitFiles(
      { 'nodes/node-b/usage_2025-03-14-11.otoml': 'node = "b"\nhour = 11\n' },
      {
        message: 'usage: node-b 2025-03-14-11',
        author: { name: 'node-b pusher', email: 'node-b@example.org' },
      },
    );
    for (let i = 0; i < 55; i++)
      hot.unshift(
        await forge.commitFiles({ 'nodes/hot/counter.otoml': `n = ${i}\n` }, { message: `hot ${i}` }),
      );
  });
  afterAll(() => forge.stop());

  it('commitFiles makes real commits on the branch', async () => {
    expect((await git(forge, 'rev-parse', 'main')).trim()).toBe(hot[0]);
    expect(hot).toHaveLength(55);
    expect((await git(forge, 'rev-parse', `${seed2}^`)).trim()).toBe(seed1);
    expect(await git(forge, 'show', 'main:nodes/node-c/sub/deep.otoml')).toBe('deep = true\n');
    expect((await git(forge, 'log', '-1', '--format=%an <%ae>|%s', seed2)).trim()).toBe(
      'node-b pusher <node-b@example.org>|usage: node-b 2025-03-14-11',
    );
    deleted = await forge.commitFiles({ 'README.md': null, 'nodes/hot/counter.otoml': 'n = 55\n' });
    expect(await git(forge, 'ls-tree', '--name-only', deleted)).not.toContain('README.md');
    expect(await git(forge, 'show', `${deleted}:nodes/hot/counter.otoml`)).toBe('n = 55\n');
    // put it back so the other tests see the seeded tree
    restored = await forge.commitFiles({ 'README.md': files['README.md'] });
  });

  it('serves a file through the contents API', async () => {
    const p = 'nodes/node-a/usage_2025-03-14-10.otoml';
    const r = await call(forge, `${R}/contents/${p}?ref=main`, { schema: 'ContentsResponse' });
    expect(r.status).toBe(200);
    const blob = (await git(forge, 'rev-parse', `main:${p}`)).trim();
    const when = (await git(forge, 'log', '-1', '--format=%cI', seed1)).trim().replace(/\+00:00$/, 'Z');
    expect(r.json).toMatchObject({
      name: 'usage_2025-03-14-10.otoml',
      path: p,
      sha: blob,
      last_commit_sha: seed1,
      last_commit_when: when,
      type: 'file',
      size: Buffer.byteLength(files[p]),
      encoding: 'base64',
      target: null,
      submodule_git_url: null,
      url: `${forge.apiUrl}${R}/contents/${p}?ref=main`,
      html_url: `${forge.rootUrl}/billing/usage-ledger/src/branch/main/${p}`,
      git_url: `${forge.apiUrl}${R}/git/blobs/${blob}`,
      download_url: `${forge.rootUrl}/billing/usage-ledger/raw/branch/main/${p}`,
    });
    expect(r.json.content).not.toMatch(/\n/);
    expect(Buffer.from(r.json.content, 'base64').toString()).toBe(files[p]);
    expect(r.json._links).toEqual({ self: r.json.url, git: r.json.git_url, html: r.json.html_url });

    // default ref = default branch; a short sha as ref
    const byDefault = await call(forge, `${R}/contents/${p}`, { schema: 'ContentsResponse' });
    expect(byDefault.json.sha).toBe(blob);
    const byShort = await call(forge, `${R}/contents/${p}?ref=${seed1.slice(0, 8)}`, {
      schema: 'ContentsResponse',
    });
    expect(byShort.json.download_url).toContain(`/raw/commit/${seed1.slice(0, 8)}/`);
  });

  it('lists a directory (content/encoding null, last commit per entry) and the root', async () => {
    const dir = await call(forge, `${R}/contents/nodes/node-b?ref=main`, { schema: 'ContentsResponse[]' });
    expect(dir.json.map((e: any) => [e.name, e.type, e.content, e.encoding, e.last_commit_sha])).toEqual([
      ['usage_2025-03-14-10.otoml', 'file', null, null, seed1],
      ['usage_2025-03-14-11.otoml', 'file', null, null, seed2],
    ]);
    const root = await call(forge, `${R}/contents?ref=main`, { schema: 'ContentsResponse[]' });
    expect(root.json.map((e: any) => [e.path, e.type, e.last_commit_sha])).toEqual([
      ['README.md', 'file', restored],
      ['nodes', 'dir', deleted],
    ]);
    const nodes = root.json[1];
    expect(nodes.download_url).toBeNull();
    expect(nodes.size).toBe(0);
    expect(nodes.git_url).toBe(
      `${forge.apiUrl}${R}/git/trees/${(await git(forge, 'rev-parse', 'main:nodes')).trim()}`,
    );
  });

  it('answers missing paths, bad refs and `..` like Forgejo', async () => {
    const missing = await call(forge, `${R}/contents/nodes/nope.otoml?ref=main`);
    expect(missing.status).toBe(404);
    expect(missing.json.message).toBe('GetContentsOrList');
    expect(missing.json.errors[0]).toMatch(/^object does not exist \[id: .*, rel_path: .*\]$/);
    const badRef = await call(forge, `${R}/contents/README.md?ref=no-such-branch`);
    expect([badRef.status, badRef.json.message]).toEqual([404, 'GetContentsOrList']);
    const dots = await rawGet(forge, `/api/v1${R}/contents/nodes/../README.md?ref=main`, forge.token);
    expect(dots.status).toBe(500);
    expect(JSON.parse(dots.body)).toEqual({ message: '', url: SWAGGER_URL(forge) });
  });

  it('lists the tree recursively, page by page, with the truncated quirk', async () => {
    const expected = (await git(forge, 'ls-tree', '-r', '-t', '-l', 'main'))
      .trim()
      .split('\n')
      .map((line) => {
        const [meta, p] = line.split('\t');
        const [mode, type, sha, size] = meta.split(/ +/);
        return { path: p, mode, type, sha, size: size === '-' ? 0 : Number(size) };
      });
    expect(expected.length).toBeGreaterThan(9);
    const head = (await git(forge, 'rev-parse', 'main')).trim();
    const seen: any[] = [];
    let page = 1;
    for (;;) {
      const r = await call(forge, `${R}/git/trees/main?recursive=true&per_page=3&page=${page}`, {
        schema: 'GitTreeResponse',
      });
      expect(r.status).toBe(200);
      expect(r.json.sha).toBe(head);
      expect(r.json.url).toBe(`${forge.apiUrl}${R}/git/trees/${head}`);
      expect(r.json.truncated).toBe(true); // on every page, the last one included
      expect(r.json.page).toBe(page);
      expect(r.json.total_count).toBe(expected.length);
      expect(r.headers.get('x-total-count')).toBe(String(expected.length));
      expect(r.json.tree.length).toBe(Math.min(3, expected.length - (page - 1) * 3));
      seen.push(...r.json.tree);
      if (page * 3 >= r.json.total_count) break;
      page++;
    }
    expect(seen.map(({ url: _, ...e }) => e)).toEqual(expected);
    const dirEntry = seen.find((e) => e.path === 'nodes/node-a');
    expect(dirEntry).toMatchObject({ mode: '040000', type: 'tree', size: 0 });
    expect(dirEntry.url).toBe(`${forge.apiUrl}${R}/git/trees/${dirEntry.sha}`);
    const fileEntry = seen.find((e) => e.path === 'README.md');
    expect(fileEntry).toMatchObject({
      mode: '100644',
      type: 'blob',
      url: `${forge.apiUrl}${R}/git/blobs/${fileEntry.sha}`,
    });

    const past = await call(forge, `${R}/git/trees/main?recursive=true&per_page=3&page=${page + 1}`, {
      schema: 'GitTreeResponse',
    });
    expect(past.json).toMatchObject({
      tree: null,
      truncated: false,
      page: page + 1,
      total_count: expected.length,
    });

    const all = await call(forge, `${R}/git/trees/${head}?recursive=1&per_page=0`, {
      schema: 'GitTreeResponse',
    });
    expect([all.json.truncated, all.json.tree.length]).toEqual([false, expected.length]);

    const top = await call(forge, `${R}/git/trees/main`, { schema: 'GitTreeResponse' });
    expect(top.json.tree.map((e: any) => e.path)).toEqual(['README.md', 'nodes']);
    const treeSha = (await git(forge, 'rev-parse', 'main:nodes')).trim();
    const sub = await call(forge, `${R}/git/trees/${treeSha}`, { schema: 'GitTreeResponse' });
    expect(sub.json.sha).toBe(treeSha);
    expect(sub.json.tree.map((e: any) => e.path)).toEqual(['hot', 'node-a', 'node-b', 'node-c']);

    const unknown = await call(forge, `${R}/git/trees/${'f'.repeat(40)}`);
    expect([unknown.status, unknown.json.message]).toEqual([400, `sha not found [${'f'.repeat(40)}]`]);
    const unknownRef = await call(forge, `${R}/git/trees/no-such-branch`);
    expect([unknownRef.status, unknownRef.json.message]).toEqual([400, 'sha not found [no-such-branch]']);
  });

  it('serves raw bytes with ETag/Last-Modified and answers If-None-Match with 304', async () => {
    const p = 'nodes/node-a/usage_2025-03-14-11.otoml';
    const blob = (await git(forge, 'rev-parse', `main:${p}`)).trim();
    const res = await fetch(`${forge.apiUrl}${R}/raw/${p}?ref=main`, {
      headers: { authorization: `token ${forge.token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(files[p]);
    expect(res.headers.get('etag')).toBe(`"${blob}"`);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('x-forgejo-object-type')).toBe('file');
    expect(res.headers.get('x-gitea-object-type')).toBe('file');
    expect(res.headers.get('content-disposition')).toBe(
      `inline; filename="usage_2025-03-14-11.otoml"; filename*=UTF-8''usage_2025-03-14-11.otoml`,
    );
    const committed = Number((await git(forge, 'log', '-1', '--format=%ct', seed1)).trim());
    expect(res.headers.get('last-modified')).toBe(new Date(committed * 1000).toUTCString());

    const again = await fetch(`${forge.apiUrl}${R}/raw/${p}?ref=main`, {
      headers: { authorization: `token ${forge.token}`, 'if-none-match': `"${blob}"` },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const stale = await fetch(`${forge.apiUrl}${R}/raw/${p}?ref=main`, {
      headers: { authorization: `token ${forge.token}`, 'if-none-match': '"0000"' },
    });
    expect(stale.status).toBe(200);

    const media = await fetch(`${forge.apiUrl}${R}/media/${p}?ref=${seed1}`, {
      headers: { authorization: `token ${forge.token}` },
    });
    expect([media.status, await media.text()]).toEqual([200, files[p]]);
  });

  it('resolves raw paths without ?ref from their first segments, else the default branch', async () => {
    await forge.commitFiles({ 'README.md': '# on a branch\n' }, { branch: 'feature' });
    const get = async (p: string) => {
      const res = await fetch(`${forge.apiUrl}${R}/raw/${p}`, {
        headers: { authorization: `token ${forge.token}` },
      });
      return [res.status, await res.text()];
    };
    expect(await get('README.md')).toEqual([200, '# ledger\n']);
    expect(await get('main/README.md')).toEqual([200, '# ledger\n']);
    expect(await get('feature/README.md')).toEqual([200, '# on a branch\n']);
    expect(await get(`${seed1}/nodes/node-c/sub/deep.otoml`)).toEqual([200, 'deep = true\n']);
  });

  it('answers raw misses with the documented 404 bodies', async () => {
    const missing = await call(forge, `${R}/raw/nodes/none.otoml?ref=main`);
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      errors: [],
      message: "The target couldn't be found.",
      url: SWAGGER_URL(forge),
    });
    const badRef = await call(forge, `${R}/raw/README.md?ref=nope`);
    expect([badRef.status, badRef.json.message]).toEqual([404, "The target couldn't be found."]);
    const dir = await call(forge, `${R}/raw/nodes/node-a?ref=main`);
    expect([dir.status, dir.json.message]).toEqual([404, 'getBlobForEntry']);
  });

  it('lists commits with pagination headers and the Link header', async () => {
    const all = (await git(forge, 'rev-list', 'main')).trim().split('\n');
    const r = await call(
      forge,
      `${R}/commits?sha=main&limit=2&page=2&stat=false&files=false&verification=false`,
      {
        schema: 'Commit[]',
      },
    );
    expect(r.json.map((c: any) => c.sha)).toEqual(all.slice(2, 4));
    const total = all.length;
    const pages = Math.ceil(total / 2);
    expect({
      total: r.headers.get('x-total-count'),
      xTotal: r.headers.get('x-total'),
      page: r.headers.get('x-page'),
      per: r.headers.get('x-perpage'),
      count: r.headers.get('x-pagecount'),
      more: r.headers.get('x-hasmore'),
    }).toEqual({
      total: String(total),
      xTotal: String(total),
      page: '2',
      per: '2',
      count: String(pages),
      more: 'true',
    });
    const base = `${forge.apiUrl}${R}/commits?files=false&limit=2`;
    const rest = 'sha=main&stat=false&verification=false';
    expect(r.headers.get('link')).toBe(
      [
        `<${base}&page=3&${rest}>; rel="next"`,
        `<${base}&page=${pages}&${rest}>; rel="last"`,
        `<${base}&page=1&${rest}>; rel="first"`,
        `<${base}&page=1&${rest}>; rel="prev"`,
      ].join(','),
    );
    const c = r.json[0];
    expect(c.files).toBeNull();
    expect(c.stats).toBeNull();
    expect(c.commit.verification).toBeNull();
    expect(c.commit.tree.sha).toBe(c.sha); // not the tree's sha
    expect(c.parents).toEqual([
      { url: `${forge.apiUrl}${R}/git/commits/${all[3]}`, sha: all[3], created: '0001-01-01T00:00:00Z' },
    ]);

    const last = await call(forge, `${R}/commits?limit=2&page=${pages}&stat=false`, { schema: 'Commit[]' });
    expect(last.headers.get('x-hasmore')).toBe('false');
    expect(last.headers.get('link')).not.toContain('rel="next"');

    const defaults = await call(forge, `${R}/commits?limit=0&stat=false&files=false`, { schema: 'Commit[]' });
    expect([defaults.json.length, defaults.headers.get('x-perpage')]).toEqual([30, '30']);
    const capped = await call(forge, `${R}/commits?limit=500&page=-3&stat=false&files=false`, {
      schema: 'Commit[]',
    });
    expect([capped.json.length, capped.headers.get('x-perpage'), capped.headers.get('x-page')]).toEqual([
      50,
      '50',
      '1',
    ]);

    const not = await call(forge, `${R}/commits?sha=${seed2}&not=${seed1}&stat=false`, {
      schema: 'Commit[]',
    });
    expect(not.json.map((x: any) => x.sha)).toEqual([seed2]);
  });

  it('with path, pages hold 50 commits whatever limit says (headers still use limit)', async () => {
    const q = 'path=nodes/hot&stat=false&files=false&verification=false';
    const p1 = await call(forge, `${R}/commits?${q}&limit=10`, { schema: 'Commit[]' });
    const hotShas = (await git(forge, 'rev-list', 'main', '--', 'nodes/hot')).trim().split('\n');
    expect(hotShas).toEqual([deleted, ...hot]);
    expect(p1.json.map((c: any) => c.sha)).toEqual(hotShas.slice(0, 50));
    expect(p1.headers.get('x-perpage')).toBe('10');
    expect(p1.headers.get('x-pagecount')).toBe('6');
    expect(p1.headers.get('x-hasmore')).toBe('true');
    expect(p1.headers.get('x-total-count')).toBe('56'); // 55 seeded + the one that deleted README
    const p2 = await call(forge, `${R}/commits?${q}&limit=50&page=2`, { schema: 'Commit[]' });
    expect(p2.json.map((c: any) => c.sha)).toEqual(hotShas.slice(50));
    expect(p2.headers.get('x-hasmore')).toBe('false');

    const one = await call(
      forge,
      `${R}/commits?sha=main&path=nodes/node-b&limit=1&${q.slice(q.indexOf('&') + 1)}`,
      {
        schema: 'Commit[]',
      },
    );
    expect(one.json[0].sha).toBe(seed2);
    expect(one.json[0].commit).toMatchObject({
      author: { name: 'node-b pusher', email: 'node-b@example.org' },
      message: 'usage: node-b 2025-03-14-11\n',
    });
  });

  it('computes files, stats and verification when asked (the defaults)', async () => {
    const r = await call(forge, `${R}/commits?sha=${seed2}&limit=1`, { schema: 'Commit[]' });
    const c = r.json[0];
    expect(c.files).toEqual([{ filename: 'nodes/node-b/usage_2025-03-14-11.otoml', status: 'added' }]);
    expect(c.stats).toEqual({ total: 2, additions: 2, deletions: 0 });
    expect(c.commit.verification).toEqual({
      verified: false,
      reason: 'gpg.error.not_signed_commit',
      signature: '',
      signer: null,
      payload: '',
    });
  });

  it('answers commit errors: unknown sha 404 null, unknown path 404, unknown sha with path 500', async () => {
    const unknown = await call(forge, `${R}/commits?sha=${'a'.repeat(40)}`);
    expect([unknown.status, unknown.text]).toEqual([404, 'null\n']);
    const noCommits = await call(forge, `${R}/commits?path=nodes/never`);
    expect(noCommits.status).toBe(404);
    expect(noCommits.json.message).toBe('FileCommitsCount');
    const both = await call(forge, `${R}/commits?sha=no-such-ref&path=nodes`);
    expect(both.status).toBe(500);
    expect(both.json).toEqual({ message: '', url: SWAGGER_URL(forge) });
  });

  it('describes a branch', async () => {
    const r = await call(forge, `${R}/branches/main`, { schema: 'Branch' });
    const head = (await git(forge, 'rev-parse', 'main')).trim();
    expect(r.json).toMatchObject({
      name: 'main',
      commit: {
        id: head,
        url: `${forge.rootUrl}/billing/usage-ledger/commit/${head}`,
        added: null,
        removed: null,
        modified: null,
      },
      protected: false,
      status_check_contexts: [],
      user_can_push: true,
      effective_branch_protection_name: '',
    });
    const missing = await call(forge, `${R}/branches/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json.errors).toEqual(['branch does not exist [name: nope]']);
  });

  it('returns "" as the content of a file over 10 MiB, and raw still serves it', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 10, 'a');
    await forge.commitFiles({ 'big/blob.txt': big }, { branch: 'big' });
    const r = await call(forge, `${R}/contents/big/blob.txt?ref=big`, { schema: 'ContentsResponse' });
    expect([r.json.content, r.json.size, r.json.encoding]).toEqual(['', big.length, 'base64']);
    const raw = await fetch(`${forge.apiUrl}${R}/raw/big/blob.txt?ref=big`, {
      headers: { authorization: `token ${forge.token}` },
    });
    expect((await raw.arrayBuffer()).byteLength).toBe(big.length);
  });

  it('answers unknown owners and repositories with 404', async () => {
    const owner = await call(forge, '/repos/nobody/usage-ledger/commits');
    expect(owner.status).toBe(404);
    expect(owner.json.message).toBe('GetUserByName');
    const repo = await call(forge, '/repos/billing/other/commits');
    expect([repo.status, repo.json.message]).toEqual([404, "The target couldn't be found."]);
  });
});

describe('writes', () => {
  let forge: FakeForge;
  const R = '/repos/billing/usage-ledger';
  beforeAll(async () => {
    forge = await startFakeForge();
    await forge.commitFiles({ 'nodes/node-a/a.otoml': 'a = 1\n', 'nodes/node-a/b.otoml': 'b = 1\n' });
  });
  afterAll(() => forge.stop());

  const blobSha = async (p: string, ref = 'main') => (await git(forge, 'rev-parse', `${ref}:${p}`)).trim();

  it('creates a file (201) with author, committer and dates, and it lands in git', async () => {
    const before = (await git(forge, 'rev-parse', 'main')).trim();
    const r = await call(forge, `${R}/contents/nodes/node-a/usage_2025-03-14-10.otoml`, {
      method: 'POST',
      body: {
        content: b64('hour = 10\n'),
        message: 'usage: node-a 2025-03-14-10',
        author: { name: 'node-a pusher', email: 'node-a@example.org' },
        committer: { name: 'usage-bot', email: 'usage-bot@example.org' },
        dates: { author: '2025-03-14T10:00:05+01:00', committer: '2025-03-14T10:00:07Z' },
      },
      schema: 'FileResponse',
    });
    expect(r.status).toBe(201);
    const sha = (await git(forge, 'rev-parse', 'main')).trim();
    expect(r.json.commit).toMatchObject({
      sha,
      message: 'usage: node-a 2025-03-14-10\n',
      author: { name: 'node-a pusher', email: 'node-a@example.org', date: '2025-03-14T09:00:05Z' },
      committer: { name: 'usage-bot', email: 'usage-bot@example.org', date: '2025-03-14T10:00:07Z' },
      parents: [{ sha: before }],
      tree: { sha: (await git(forge, 'rev-parse', 'main^{tree}')).trim() },
    });
    expect(r.json.content).toMatchObject({
      path: 'nodes/node-a/usage_2025-03-14-10.otoml',
      sha: await blobSha('nodes/node-a/usage_2025-03-14-10.otoml'),
      last_commit_sha: sha,
      content: b64('hour = 10\n'),
    });
    expect(await git(forge, 'show', 'main:nodes/node-a/usage_2025-03-14-10.otoml')).toBe('hour = 10\n');
    expect((await git(forge, 'log', '-1', '--format=%an|%ae|%aI|%cn|%cI', 'main')).trim()).toBe(
      'node-a pusher|node-a@example.org|2025-03-14T10:00:05+01:00|usage-bot|2025-03-14T10:00:07+00:00',
    );

    const again = await call(forge, `${R}/contents/nodes/node-a/usage_2025-03-14-10.otoml`, {
      method: 'POST',
      body: { content: b64('x') },
    });
    expect(again.status).toBe(422);
    expect(again.json.message).toBe(
      'repository file already exists [path: nodes/node-a/usage_2025-03-14-10.otoml]',
    );
  });

  it('defaults the message and the identity to the token user', async () => {
    const r = await call(forge, `${R}/contents/nodes/node-z/new.otoml`, {
      method: 'POST',
      body: { content: b64('z') },
      schema: 'FileResponse',
    });
    expect(r.json.commit.message).toBe('Add nodes/node-z/new.otoml\n');
    expect(r.json.commit.author.email).toBe('forge-user@noreply.localhost');
  });

  it('updates with the current sha (200) and refuses a missing or stale sha with 422', async () => {
    const p = 'nodes/node-a/a.otoml';
    const old = await blobSha(p);
    const noSha = await call(forge, `${R}/contents/${p}`, {
      method: 'PUT',
      body: { content: b64('a = 2\n') },
    });
    expect([noSha.status, noSha.json.message]).toEqual([422, '[SHA]: Required']);
    const stale = await call(forge, `${R}/contents/${p}`, {
      method: 'PUT',
      body: { content: b64('a = 2\n'), sha: 'b'.repeat(40) },
    });
    expect([stale.status, stale.json.message]).toEqual([
      422,
      `sha does not match [given: ${'b'.repeat(40)}, expected: ${old}]`,
    ]);
    const ok = await call(forge, `${R}/contents/${p}`, {
      method: 'PUT',
      body: { content: b64('a = 2\n'), sha: old },
      schema: 'FileResponse',
    });
    expect(ok.status).toBe(200);
    expect(ok.json.commit.message).toBe(`Update ${p}\n`);
    expect(await git(forge, 'show', `main:${p}`)).toBe('a = 2\n');
    const missing = await call(forge, `${R}/contents/nodes/none.otoml`, {
      method: 'PUT',
      body: { content: b64('x'), sha: old },
    });
    expect([missing.status, missing.json.message]).toEqual([500, '']);
  });

  it('refuses bad base64, unknown branches, an existing new_branch and a bad content type', async () => {
    const bad = await call(forge, `${R}/contents/x.otoml`, {
      method: 'POST',
      body: { content: 'not base64!' },
    });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toMatch(/^illegal base64 data at input byte \d+$/);
    const branch = await call(forge, `${R}/contents/x.otoml`, {
      method: 'POST',
      body: { content: b64('x'), branch: 'nope' },
    });
    expect([branch.status, branch.json.message]).toEqual([404, 'branch does not exist [name: nope]']);
    await forge.commitFiles({ 'other.txt': 'o' }, { branch: 'existing' });
    const exists = await call(forge, `${R}/contents/x.otoml`, {
      method: 'POST',
      body: { content: b64('x'), new_branch: 'existing' },
    });
    expect([exists.status, exists.json.message]).toEqual([422, 'branch already exists [name: existing]']);
    const text = await call(forge, `${R}/contents/x.otoml`, {
      method: 'POST',
      body: { content: b64('x') },
      headers: { 'content-type': 'text/plain' },
    });
    expect([text.status, text.json.message]).toEqual([422, '[]: Unsupported Content-Type']);
    const underFile = await call(forge, `${R}/contents/nodes/node-a/a.otoml/child`, {
      method: 'POST',
      body: { content: b64('x') },
    });
    expect(underFile.status).toBe(422);
    expect(await git(forge, 'ls-tree', '-r', '--name-only', 'main')).not.toContain('x.otoml');
  });

  it('changes several files in one commit (201 FilesResponse) and on a new branch', async () => {
    const before = (await git(forge, 'rev-parse', 'main')).trim();
    const b = 'nodes/node-a/b.otoml';
    const r = await call(forge, `${R}/contents`, {
      method: 'POST',
      body: {
        message: 'usage: batch',
        files: [
          { operation: 'create', path: 'nodes/node-c/c1.otoml', content: b64('c1') },
          { operation: 'create', path: 'nodes/node-c/c2.otoml', content: b64('c2') },
          { operation: 'update', path: b, content: b64('b = 2\n'), sha: await blobSha(b) },
          {
            operation: 'delete',
            path: 'nodes/node-z/new.otoml',
            sha: await blobSha('nodes/node-z/new.otoml'),
          },
        ],
      },
      schema: 'FilesResponse',
    });
    expect(r.status).toBe(201);
    expect(r.json.files.map((f: any) => f?.path ?? null)).toEqual([
      'nodes/node-c/c1.otoml',
      'nodes/node-c/c2.otoml',
      b,
      null,
    ]);
    expect((await git(forge, 'rev-parse', 'main^')).trim()).toBe(before);
    expect(r.json.commit.sha).toBe((await git(forge, 'rev-parse', 'main')).trim());
    const names = await git(forge, 'ls-tree', '-r', '--name-only', 'main');
    expect(names).toContain('nodes/node-c/c2.otoml');
    expect(names).not.toContain('nodes/node-z/new.otoml');
    expect(await git(forge, 'show', `main:${b}`)).toBe('b = 2\n');

    const noSha = await call(forge, `${R}/contents`, {
      method: 'POST',
      body: { files: [{ operation: 'delete', path: b }] },
    });
    expect(noSha.status).toBe(422);
    const badOp = await call(forge, `${R}/contents`, {
      method: 'POST',
      body: { files: [{ operation: 'move', path: b }] },
    });
    expect([badOp.status, badOp.json.message]).toEqual([422, '[Operation]: In']);

    const branched = await call(forge, `${R}/contents`, {
      method: 'POST',
      body: { new_branch: 'topic', files: [{ operation: 'create', path: 'topic.txt', content: b64('t') }] },
      schema: 'FilesResponse',
    });
    expect(branched.status).toBe(201);
    expect(branched.json.files[0].url).toContain('?ref=topic');
    expect((await git(forge, 'rev-parse', 'topic^')).trim()).toBe(
      (await git(forge, 'rev-parse', 'main')).trim(),
    );
    expect(await git(forge, 'ls-tree', '--name-only', 'main')).not.toContain('topic.txt');
  });

  it('serializes concurrent writes into a linear history', async () => {
    const before = Number((await git(forge, 'rev-list', '--count', 'main')).trim());
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(forge, `${R}/contents/nodes/par/f${i}.otoml`, {
          method: 'POST',
          body: { content: b64(`${i}`) },
          schema: 'FileResponse',
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(Number((await git(forge, 'rev-list', '--count', 'main')).trim())).toBe(before + 8);
    expect((await git(forge, 'ls-tree', '--name-only', 'main:nodes/par')).trim().split('\n')).toHaveLength(8);
  });
});

describe('authentication', () => {
  let forge: FakeForge;
  let pub: FakeForge;
  const R = '/repos/billing/usage-ledger';
  const TOKENS = {
    rw: ['read:repository', 'write:repository'],
    ro: ['read:repository'],
    user: ['read:user'],
  };
  beforeAll(async () => {
    forge = await startFakeForge({ tokens: TOKENS });
    pub = await startFakeForge({ tokens: TOKENS, publicRepo: true });
    await forge.commitFiles({ 'a.txt': 'a' });
    await pub.commitFiles({ 'a.txt': 'a' });
  });
  afterAll(async () => {
    await forge.stop();
    await pub.stop();
  });

  const read = (f: FakeForge, o: CallOptions) => call(f, `${R}/branches/main`, { schema: 'Branch', ...o });
  const write = (f: FakeForge, o: CallOptions) =>
    call(f, `${R}/contents/w-${Math.random().toString(36).slice(2)}.txt`, {
      method: 'POST',
      body: { content: b64('w') },
      schema: 'FileResponse',
      ...o,
    });

  it('accepts `token`, `Bearer` and basic auth with the token as password', async () => {
    expect(forge.token).toBe('rw');
    expect((await read(forge, { authorization: 'token rw' })).status).toBe(200);
    expect((await read(forge, { authorization: 'Bearer rw' })).status).toBe(200);
    expect((await read(forge, { authorization: 'bearer rw' })).status).toBe(200);
    const basic = `Basic ${Buffer.from('someone:rw').toString('base64')}`;
    expect((await read(forge, { authorization: basic })).status).toBe(200);
    expect((await write(forge, { authorization: basic })).status).toBe(201);
  });

  it('treats `Token` (capitalised) and query-string tokens as anonymous (v12)', async () => {
    expect((await read(forge, { authorization: 'Token rw' })).status).toBe(404);
    expect((await call(forge, `${R}/branches/main?token=rw`, { token: null })).status).toBe(404);
    expect((await call(forge, `${R}/branches/main?access_token=rw`, { token: null })).status).toBe(404);
  });

  it('answers an unknown token with 401 "user does not exist"', async () => {
    const r = await read(forge, { token: 'nope' });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ message: 'user does not exist [uid: 0, name: ]', url: SWAGGER_URL(forge) });
    const v = await call(forge, '/version', { token: 'nope' });
    expect(v.status).toBe(401);
  });

  it('hides a private repository from anonymous callers (404), even for writes', async () => {
    const r = await read(forge, { token: null });
    expect([r.status, r.json.message]).toEqual([404, "The target couldn't be found."]);
    expect((await write(forge, { token: null })).status).toBe(404);
  });

  it('serves a public repository anonymously but asks a token for writes (401)', async () => {
    expect((await read(pub, { token: null })).status).toBe(200);
    const w = await write(pub, { token: null });
    expect(w.status).toBe(401);
    expect(w.json).toEqual({ message: 'token is required', url: SWAGGER_URL(pub) });
    expect((await read(pub, { token: null })).json.user_can_push).toBe(false);
  });

  it('checks token scopes (403)', async () => {
    const w = await write(forge, { token: 'ro' });
    expect(w.status).toBe(403);
    expect(w.json.message).toBe('token does not have at least one of required scope(s): [write:repository]');
    const r = await read(forge, { token: 'user' });
    expect(r.status).toBe(403);
    expect(r.json.message).toBe('token does not have at least one of required scope(s): [read:repository]');
    expect((await read(forge, { token: 'ro' })).status).toBe(200);
  });
});

describe('fault injection and the request log', () => {
  let forge: FakeForge;
  const R = '/repos/billing/usage-ledger';
  beforeAll(async () => {
    forge = await startFakeForge();
    await forge.commitFiles({ 'a.txt': 'a' });
  });
  afterAll(() => forge.stop());

  it('fails the matching requests `times` times, then answers normally', async () => {
    forge.injectFault({ path: '/commits', status: 503, headers: { 'retry-after': '1' }, times: 2 });
    const q = '/commits?stat=false';
    const first = await call(forge, `${R}${q}`);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.json).toEqual({ message: 'Service Unavailable', url: SWAGGER_URL(forge) });
    expect((await call(forge, `${R}${q}`)).status).toBe(503);
    expect((await call(forge, `${R}${q}`, { schema: 'Commit[]' })).status).toBe(200);
    expect(forge.requests.slice(-3)).toEqual([
      { method: 'GET', path: `${R}/commits`, query: 'stat=false', status: 503 },
      { method: 'GET', path: `${R}/commits`, query: 'stat=false', status: 503 },
      { method: 'GET', path: `${R}/commits`, query: 'stat=false', status: 200 },
    ]);
  });

  it('matches methods and regular expressions, takes custom bodies, and clears', async () => {
    forge.injectFault({ method: 'POST', path: /\/contents\/.+\.txt$/, status: 500, times: Infinity });
    forge.injectFault({ path: 'ref=boom', status: 502, body: '<html>bad gateway</html>' });
    const post = await call(forge, `${R}/contents/b.txt`, { method: 'POST', body: { content: b64('b') } });
    expect([post.status, post.json]).toEqual([500, { message: '', url: SWAGGER_URL(forge) }]);
    expect(
      (await call(forge, `${R}/contents/c.txt`, { method: 'POST', body: { content: b64('c') } })).status,
    ).toBe(500);
    expect((await call(forge, `${R}/contents/a.txt`, { schema: 'ContentsResponse' })).status).toBe(200);
    const proxy = await call(forge, `${R}/raw/a.txt?ref=boom`);
    expect([proxy.status, proxy.text]).toEqual([502, '<html>bad gateway</html>']);
    forge.clearFaults();
    const ok = await call(forge, `${R}/contents/b.txt`, {
      method: 'POST',
      body: { content: b64('b') },
      schema: 'FileResponse',
    });
    expect(ok.status).toBe(201);
    expect(await git(forge, 'show', 'main:b.txt')).toBe('b');
    expect(await git(forge, 'ls-tree', '--name-only', 'main')).not.toContain('c.txt');
  });
});
