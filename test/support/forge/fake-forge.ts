/**
 * A local fake Forgejo (v12) forge for tests: an HTTP server on 127.0.0.1 that serves a real bare git
 * repository through the subset of the Forgejo API v1 described in forge-api.md (contents, raw/media,
 * commits, git trees, branches, file writes, authentication), with Forgejo's shapes, status codes,
 * headers and pagination quirks. Every git operation goes through the `git` CLI. See README.md beside
 * this file for what differs from a real Forgejo.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface FakeForgeOptions {
  owner?: string; // default 'billing'
  repo?: string; // default 'usage-ledger'
  defaultBranch?: string; // default 'main'
  /** tokens and their scopes; default { 'test-token': ['read:repository','write:repository'] } */
  tokens?: Record<string, string[]>;
  /** answer anonymous reads (public repo)? default false: anonymous reads of a private repo get 404 */
  publicRepo?: boolean;
  /** a directory to keep the bare repo in; default a fresh mkdtemp under os.tmpdir() removed on stop() */
  dir?: string;
}

export interface FaultRule {
  method?: string; // default any
  /** matched against the request path after /api/v1 (e.g. /repos/billing/usage-ledger/commits) plus query string; string = substring, or RegExp */
  path: string | RegExp;
  status: number; // e.g. 500, 429, 502
  /** default an APIError-shaped body as Forgejo would send for that status; a string is sent as is (text/plain) */
  body?: unknown;
  headers?: Record<string, string>; // e.g. { 'retry-after': '1' }
  times?: number; // how many matching requests fail; default 1; Infinity allowed
}

export interface ForgeRequestLog {
  method: string;
  /** the path after /api/v1 for API requests (the whole path otherwise), still percent-encoded */
  path: string;
  /** the raw query string, without '?' */
  query: string;
  status: number;
}

export interface FakeForge {
  rootUrl: string; // e.g. http://127.0.0.1:PORT  (ROOT_URL; API base is rootUrl + '/api/v1')
  apiUrl: string; // rootUrl + '/api/v1'
  owner: string;
  repo: string;
  token: string; // token = first token of options.tokens
  /** the bare repository's path (a test may `git clone`/push to it directly, or use it as a plain git source) */
  gitDir: string;
  requests: ForgeRequestLog[];
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** commit files directly (test seeding): one commit on the branch with these path->content (string|Buffer) writes; null content deletes. Returns the commit sha. Works on an empty repo (creates the branch). */
  commitFiles(
    files: Record<string, string | Buffer | null>,
    opts?: { message?: string; branch?: string; author?: { name: string; email: string } },
  ): Promise<string>;
  stop(): Promise<void>;
}

/** The user every token belongs to (the repository owner's collaborator with write access). */
export const FAKE_FORGE_USER = { login: 'forge-user', email: 'forge-user@noreply.localhost' } as const;
/** Identity commitFiles uses when no author is given. */
export const FAKE_FORGE_SEEDER = { name: 'fake-forge seeder', email: 'seeder@fake-forge.invalid' } as const;

// Forgejo settings the behaviour depends on (defaults of app.ini).
const MAX_RESPONSE_ITEMS = 50;
const DEFAULT_PAGING_NUM = 30;
const DEFAULT_GIT_TREES_PER_PAGE = 1000;
const DEFAULT_MAX_BLOB_SIZE = 10 * 1024 * 1024;
const COMMITS_RANGE_SIZE = 50;

const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
const ZERO_SHA = '0000000000000000000000000000000000000000';
const TMP_REF = 'refs/fake-forge/tmp';
const NOT_FOUND_MESSAGE = "The target couldn't be found.";

// ---------------------------------------------------------------------------------------------------
// git plumbing

interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

interface Sig {
  name: string;
  email: string;
  unix: number;
  /** "+0100" */
  tz: string;
}

interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  author: Sig;
  committer: Sig;
  message: string;
  signature: string | null;
  payload: string;
}

interface Entry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  size: number;
  path: string;
}

interface Refs {
  branches: Map<string, string>;
  /** tag name -> peeled commit sha (or the object itself when not a commit) */
  tags: Map<string, string>;
}

class Git {
  constructor(readonly dir: string) {}

  run(args: string[], input?: string | Buffer, cwd = this.dir): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        ['-c', 'core.quotepath=false', '-c', 'log.showSignature=false', `--git-dir=${this.dir}`, ...args],
        { cwd, encoding: 'buffer', maxBuffer: 1 << 30 },
        (err, stdout, stderr) => {
          const code = err ? (err as NodeJS.ErrnoException & { code?: unknown }).code : 0;
          if (typeof code !== 'number') return reject(err);
          resolve({ code, stdout, stderr: stderr.toString('utf8') });
        },
      );
      child.stdin?.on('error', () => {});
      child.stdin?.end(input ?? '');
    });
  }

  async ok(args: string[], input?: string | Buffer): Promise<Buffer> {
    const r = await this.run(args, input);
    if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  async text(args: string[], input?: string | Buffer): Promise<string> {
    return (await this.ok(args, input)).toString('utf8');
  }
}

interface GitObject {
  sha: string;
  type: string;
  data: Buffer;
}

/** One long-running `git cat-file --batch`: object and ref look-ups without a process each. */
class CatFile {
  private child: ChildProcessWithoutNullStreams | undefined;
  private queue: { resolve: (o: GitObject | null) => void; reject: (e: Error) => void }[] = [];
  private chunks: Buffer[] = [];
  private length = 0;
  private header: { sha: string; type: string; size: number } | null = null;

  constructor(private readonly dir: string) {}

  /** Any object name cat-file understands (sha, short sha, ref, `rev^{commit}`); null when missing/ambiguous. */
  get(name: string): Promise<GitObject | null> {
    if (!name || /[\0\n\r]/.test(name)) return Promise.resolve(null);
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      child.stdin.write(`${name}\n`);
    });
  }

  close() {
    this.child?.stdin.end();
    this.child?.kill();
    this.child = undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(
      'git',
      ['-c', 'core.quotepath=false', `--git-dir=${this.dir}`, 'cat-file', '--batch'],
      {
        cwd: this.dir,
      },
    );
    this.child = child;
    this.chunks = [];
    this.length = 0;
    this.header = null;
    child.stdout.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.length += d.length;
      this.drain();
    });
    child.stdin.on('error', () => {});
    child.stderr.resume();
    const fail = () => {
      if (this.child === child) this.child = undefined;
      for (const q of this.queue.splice(0)) q.reject(new Error('git cat-file --batch exited'));
    };
    child.on('exit', fail);
    child.on('error', fail);
    return child;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return head;
  }

  private drain() {
    while (this.queue.length > 0) {
      if (!this.header) {
        const all = this.take(this.length);
        const nl = all.indexOf(10);
        this.chunks = [all];
        this.length = all.length;
        if (nl < 0) return;
        const line = this.take(nl + 1)
          .subarray(0, nl)
          .toString('utf8');
        const parts = line.split(' ');
        if (parts.length !== 3 || !/^\d+$/.test(parts[2])) {
          this.queue.shift()?.resolve(null); // "<name> missing" / "<name> ambiguous"
          continue;
        }
        this.header = { sha: parts[0], type: parts[1], size: Number(parts[2]) };
      }
      if (this.length < this.header.size + 1) return;
      const data = Buffer.from(this.take(this.header.size + 1).subarray(0, this.header.size));
      const { sha, type } = this.header;
      this.header = null;
      this.queue.shift()?.resolve({ sha, type, data });
    }
  }
}

function parseSig(line: string): Sig {
  const lt = line.lastIndexOf('<');
  const gt = line.lastIndexOf('>');
  const [unix = '0', tz = '+0000'] = line
    .slice(gt + 1)
    .trim()
    .split(' ');
  return {
    name: line.slice(0, Math.max(lt, 0)).trimEnd(),
    email: line.slice(lt + 1, gt),
    unix: Number(unix),
    tz,
  };
}

function parseCommit(sha: string, raw: Buffer): CommitInfo {
  const text = raw.toString('utf8');
  const split = text.indexOf('\n\n');
  const head = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  const info: CommitInfo = {
    sha,
    tree: '',
    parents: [],
    author: parseSig(''),
    committer: parseSig(''),
    message,
    signature: null,
    payload: '',
  };
  const lines = head.split('\n');
  const payloadLines: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const sp = line.indexOf(' ');
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1);
    if (key === 'gpgsig' || key === 'gpgsig-sha256') {
      const sig = [value];
      while (i + 1 < lines.length && lines[i + 1].startsWith(' ')) sig.push(lines[++i].slice(1));
      info.signature = `${sig.join('\n')}\n`;
      continue;
    }
    payloadLines.push(line);
    if (key === 'tree') info.tree = value;
    else if (key === 'parent') info.parents.push(value);
    else if (key === 'author') info.author = parseSig(value);
    else if (key === 'committer') info.committer = parseSig(value);
  }
  if (info.signature) info.payload = `${payloadLines.join('\n')}\n\n${message}`;
  return info;
}

/** Go's time.Time JSON form (RFC 3339, the commit's own UTC offset, "Z" for +00:00). */
function goTime(unix: number, tz = '+0000'): string {
  const m = /^([+-])(\d\d)(\d\d)$/.exec(tz);
  const offsetMin = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  const local = new Date((unix + offsetMin * 60) * 1000).toISOString().slice(0, 19);
  if (offsetMin === 0) return `${local}Z`;
  const abs = Math.abs(offsetMin);
  return `${local}${offsetMin < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const sigTime = (s: Sig) => goTime(s.unix, s.tz);

/** Go's path.Clean (close enough: posix normalize without the trailing slash). */
function goClean(p: string): string {
  if (p === '') return '.';
  let r = path.posix.normalize(p);
  if (r.length > 1 && r.endsWith('/')) r = r.slice(0, -1);
  return r;
}

/** Forgejo's CleanUploadFileName: rebase the path, refuse any `.git` component ("" = invalid). */
function cleanUploadFileName(name: string): string {
  if (name === '') return '';
  const p = goClean(`/${name}`);
  const rel = p === '/' ? '.' : p.slice(1);
  for (const part of rel.split('/')) if (part.toLowerCase() === '.git') return '';
  return rel;
}

/** Go's url.PathEscape / url.QueryEscape. */
function goEscape(s: string, mode: 'segment' | 'query'): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (mode === 'segment' && '$&+:=@'.includes(c)) out += c;
    else if (mode === 'query' && c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const escapeSegments = (p: string) =>
  p
    .split('/')
    .map((s) => goEscape(s, 'segment'))
    .join('/');

/** Go's url.Values.Encode (keys sorted). */
function goValuesEncode(params: URLSearchParams): string {
  const keys = [...new Set(params.keys())].sort();
  const parts: string[] = [];
  for (const k of keys)
    for (const v of params.getAll(k)) parts.push(`${goEscape(k, 'query')}=${goEscape(v, 'query')}`);
  return parts.join('&');
}

/** encoding/json output: HTML-safe escapes and a trailing newline, like Go's json.Encoder. */
function goJson(v: unknown): string {
  return `${JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

/** ctx.FormInt: strconv.Atoi, 0 on error. */
function formInt(q: URLSearchParams, key: string): number {
  const v = q.get(key) ?? '';
  return /^[+-]?\d+$/.test(v) ? Number.parseInt(v, 10) : 0;
}

/** strconv.ParseBool (false on error). */
function parseBool(v: string): boolean {
  return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);
}

/** fast-import path: always C-quoted. */
function fiPath(p: string): string {
  let out = '"';
  for (const ch of p) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const sanitizeIdent = (s: string) => s.replace(/[<>\n\r\0]/g, '').trim();

function isValidBranchName(name: string): boolean {
  if (name === '' || name.length > 100) return false;
  if (/[\0-\x20\x7f~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.') || name === '@') return false;
  if (name.startsWith('-')) return false;
  return name.split('/').every((c) => c !== '' && !c.startsWith('.') && !c.endsWith('.lock'));
}

/** Go's base64.StdEncoding.DecodeString (newlines ignored), with its error text. */
function decodeStdBase64(s: string): Buffer | string {
  const clean = s.replace(/[\r\n]/g, '');
  const bad = (i: number) => `illegal base64 data at input byte ${i}`;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i];
    if (/[A-Za-z0-9+/]/.test(c)) continue;
    if (c === '=') {
      const rest = clean.slice(i);
      const pos = i % 4;
      if (!(pos >= 2 && /^={1,2}$/.test(rest) && pos + rest.length === 4)) return bad(i);
      if (pos === 3 && rest.length !== 1) return bad(i);
      break;
    }
    return bad(i);
  }
  if (clean.length % 4 !== 0) return bad(clean.length - (clean.length % 4) || 0);
  return Buffer.from(clean, 'base64');
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 date as a git time (unix + "+hhmm"); null for Go's zero time. */
function gitTimeOf(s: string): { unix: number; tz: string } | null {
  const ms = Date.parse(s);
  const unix = Math.floor(ms / 1000);
  if (unix <= -62135596800) return null; // 0001-01-01T00:00:00Z (IsZero)
  const m = /([Zz]|([+-])(\d{2}):(\d{2}))$/.exec(s);
  const tz = !m || m[1].toUpperCase() === 'Z' ? '+0000' : `${m[2]}${m[3]}${m[4]}`;
  return { unix, tz };
}

class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.then(
      () => {},
      () => {},
    );
    return p;
  }
}

function boundedSet<K, V>(map: Map<K, V>, key: K, value: V, max = 20_000): V {
  if (map.size >= max) map.clear();
  map.set(key, value);
  return value;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// HTTP plumbing

interface Reply {
  status: number;
  /** undefined = no body; Buffer = raw bytes; anything else = JSON */
  body?: unknown;
  headers?: Record<string, string>;
}

class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

interface Ctx {
  method: string;
  query: URLSearchParams;
  rawQuery: string;
  /** the request path after /api/v1 (still encoded) */
  apiPath: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  auth: { kind: 'anonymous' } | { kind: 'token'; scopes: string[] } | { kind: 'password' };
}

// ---------------------------------------------------------------------------------------------------

export async function startFakeForge(options: FakeForgeOptions = {}): Promise<FakeForge> {
  const owner = options.owner ?? 'billing';
  const repoName = options.repo ?? 'usage-ledger';
  let defaultBranch = options.defaultBranch ?? 'main';
  const tokens = options.tokens ?? { 'test-token': ['read:repository', 'write:repository'] };
  const publicRepo = options.publicRepo ?? false;

  let ownedTmp: string | undefined;
  let gitDir: string;
  if (options.dir) {
    gitDir = path.resolve(options.dir);
  } else {
    ownedTmp = await mkdtemp(path.join(tmpdir(), 'fake-forge-'));
    gitDir = path.join(ownedTmp, `${repoName}.git`);
  }
  const git = new Git(gitDir);
  const isRepo = await stat(path.join(gitDir, 'HEAD')).then(
    () => true,
    () => false,
  );
  if (!isRepo) {
    await mkdir(gitDir, { recursive: true });
    await git.ok(['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, gitDir]);
  } else {
    await git.ok(['symbolic-ref', 'HEAD', `refs/heads/${defaultBranch}`]);
  }

  let rootUrl = '';
  const swaggerUrl = () => `${rootUrl}/api/swagger`;
  const apiRepoUrl = () => `${rootUrl}/api/v1/repos/${owner}/${repoName}`;
  const htmlRepoUrl = () => `${rootUrl}/${owner}/${repoName}`;

  const apiError = (status: number, message: string, headers?: Record<string, string>): HttpError =>
    new HttpError({ status, body: { message, url: swaggerUrl() }, headers });
  const notFound = (message = NOT_FOUND_MESSAGE, errors: string[] = []): HttpError =>
    new HttpError({ status: 404, body: { errors, message, url: swaggerUrl() } });
  const serverError = (cause: string): HttpError =>
    // Forgejo blanks 500 messages for non-admins; the cause goes to a header to ease debugging.
    apiError(500, '', { 'x-fake-forge-error': cause.replace(/[^\x20-\x7e]/g, '?').slice(0, 500) });

  // ---------------------------------------------------------------------------- git reads (cached)

  const cat = new CatFile(gitDir);
  const commitCache = new Map<string, CommitInfo>();
  const treeCache = new Map<string, Promise<Entry[]>>();
  const indexCache = new Map<string, Promise<Map<string, Entry>>>();
  const historyCache = new Map<string, Promise<Map<string, string> | null>>();
  const lastCommitCache = new Map<string, string>();
  const blobCache = new Map<string, Buffer>();
  const diffCache = new Map<string, unknown>();

  /** Memoise a promise (dropped again if it fails). */
  function memo<T>(
    cache: Map<string, Promise<T>>,
    key: string,
    max: number,
    make: () => Promise<T>,
  ): Promise<T> {
    const hit = cache.get(key);
    if (hit) return hit;
    const p = make();
    boundedSet(cache, key, p, max);
    p.catch(() => cache.delete(key));
    return p;
  }

  async function listRefs(): Promise<Refs> {
    const out = await git.text([
      'for-each-ref',
      '--format=%(refname)%00%(objectname)%00%(*objectname)',
      'refs/heads',
      'refs/tags',
    ]);
    const refs: Refs = { branches: new Map(), tags: new Map() };
    for (const line of out.split('\n')) {
      if (!line) continue;
      const [name, sha, peeled] = line.split('\0');
      if (name.startsWith('refs/heads/')) refs.branches.set(name.slice(11), sha);
      else if (name.startsWith('refs/tags/')) refs.tags.set(name.slice(10), peeled || sha);
    }
    return refs;
  }

  /** Forgejo's repo.IsEmpty: no branch at all. */
  async function isEmptyRepo(): Promise<boolean> {
    return (await listRefs()).branches.size === 0;
  }

  function remember(o: GitObject | null): GitObject | null {
    if (o?.type === 'commit' && !commitCache.has(o.sha))
      boundedSet(commitCache, o.sha, parseCommit(o.sha, o.data));
    return o;
  }

  /** GetCommit(ref): branch, tag, full or short sha, any revision expression. */
  async function resolveCommit(ref: string): Promise<string | null> {
    if (!ref || ref.startsWith('-')) return null;
    return remember(await cat.get(`${ref}^{commit}`))?.sha ?? null;
  }

  /** The commit a branch points at, or null. */
  async function branchHead(name: string): Promise<string | null> {
    if (!isValidBranchName(name)) return null;
    const o = remember(await cat.get(`refs/heads/${name}`));
    return o?.type === 'commit' ? o.sha : null;
  }

  async function refTypeOf(ref: string): Promise<string> {
    if (isValidBranchName(ref) && (await cat.get(`refs/heads/${ref}`))) return 'branch';
    if (isValidBranchName(ref) && (await cat.get(`refs/tags/${ref}`))) return 'tag';
    return 'commit';
  }

  async function readCommit(sha: string): Promise<CommitInfo> {
    const cached = commitCache.get(sha);
    if (cached) return cached;
    const o = await cat.get(sha);
    if (o?.type !== 'commit') throw new Error(`not a commit: ${sha}`);
    remember(o);
    return commitCache.get(sha) ?? parseCommit(sha, o.data);
  }

  async function readCommits(shas: string[]): Promise<Map<string, CommitInfo>> {
    const list = await Promise.all([...new Set(shas)].map(readCommit));
    return new Map(list.map((c) => [c.sha, c]));
  }

  /** `git ls-tree -l` of a tree or commit sha, recursive with directories, in tree order. */
  function lsTree(sha: string, recursive: boolean): Promise<Entry[]> {
    return memo(treeCache, `${sha}:${recursive}`, 200, async () => {
      const out = await git.text(['ls-tree', '-l', '-z', ...(recursive ? ['-r', '-t'] : []), sha]);
      const entries: Entry[] = [];
      for (const rec of out.split('\0')) {
        if (!rec) continue;
        const tab = rec.indexOf('\t');
        const [mode, type, objectSha, size] = rec.slice(0, tab).split(/ +/);
        entries.push({
          mode,
          type: type as Entry['type'],
          sha: objectSha,
          size: size === '-' ? 0 : Number(size),
          path: rec.slice(tab + 1),
        });
      }
      return entries;
    });
  }

  /** path -> entry for every file and directory of a commit. */
  function pathIndex(commitSha: string): Promise<Map<string, Entry>> {
    return memo(indexCache, commitSha, 200, async () => {
      return new Map((await lsTree(commitSha, true)).map((e) => [e.path, e] as const));
    });
  }

  async function readBlob(sha: string): Promise<Buffer> {
    const cached = blobCache.get(sha);
    if (cached) return cached;
    const o = await cat.get(sha);
    if (o?.type !== 'blob') throw new Error(`not a blob: ${sha}`);
    if (o.data.length <= 256 * 1024) boundedSet(blobCache, sha, o.data, 5000);
    return o.data;
  }

  /**
   * For every path (files and directories) ever touched in the history of a commit, the newest
   * commit touching it: one `git log --name-only` walk. null when the history has merges (then
   * `git log -1 -- <path>` answers, with git's history simplification, like Forgejo).
   */
  function historyOf(commitSha: string): Promise<Map<string, string> | null> {
    return memo(historyCache, commitSha, 50, async () => {
      const out = await git.text([
        'log',
        '-z',
        '--format=%x01%H %P',
        '--name-only',
        '--no-renames',
        commitSha,
      ]);
      const last = new Map<string, string>();
      for (const chunk of out.split('\x01')) {
        if (!chunk) continue;
        const nul = chunk.indexOf('\0');
        const [sha, ...parents] = chunk.slice(0, nul).split(' ');
        if (parents.length > 1) return null;
        for (const raw of chunk.slice(nul + 1).split('\0')) {
          const name = raw.replace(/^\n/, '');
          if (!name) continue;
          let p = name;
          while (!last.has(p)) {
            last.set(p, sha);
            const slash = p.lastIndexOf('/');
            if (slash < 0) break;
            p = p.slice(0, slash);
          }
        }
      }
      return last;
    });
  }

  /** The last commit touching `p` from `commitSha` (GetCommitByPath). */
  async function lastCommitOf(commitSha: string, p: string): Promise<string> {
    if (p === '') return commitSha;
    const known = (await historyOf(commitSha))?.get(p);
    if (known) return known;
    const key = `${commitSha}:${p}`;
    const cached = lastCommitCache.get(key);
    if (cached) return cached;
    const out = await git.text(['log', '-1', '--format=%H', commitSha, '--', p]);
    return boundedSet(lastCommitCache, key, out.trim() || commitSha);
  }

  // ---------------------------------------------------------------------------- API objects

  const verificationOf = (c: CommitInfo) => ({
    verified: false,
    reason: c.signature ? 'gpg.error.no_gpg_keys_found' : 'gpg.error.not_signed_commit',
    signature: c.signature ?? '',
    signer: null,
    payload: c.payload,
  });

  function apiUser(email: string) {
    if (email.toLowerCase() !== FAKE_FORGE_USER.email) return null;
    return {
      id: 1,
      login: FAKE_FORGE_USER.login,
      login_name: '',
      source_id: 0,
      full_name: '',
      email: FAKE_FORGE_USER.email,
      avatar_url: `${rootUrl}/avatars/fake`,
      html_url: `${rootUrl}/${FAKE_FORGE_USER.login}`,
      language: '',
      is_admin: false,
      last_login: GO_ZERO_TIME,
      created: '2024-01-01T00:00:00Z',
      restricted: false,
      active: true,
      prohibit_login: false,
      location: '',
      pronouns: '',
      website: '',
      description: '',
      visibility: 'public',
      followers_count: 0,
      following_count: 0,
      starred_repos_count: 0,
    };
  }

  const contentTypeOf = (e: Entry): 'file' | 'dir' | 'symlink' | 'submodule' =>
    e.mode === '040000'
      ? 'dir'
      : e.mode === '120000'
        ? 'symlink'
        : e.mode === '160000'
          ? 'submodule'
          : 'file';

  /** files_service.GetContents: one ContentsResponse. */
  async function contentsOf(
    e: Entry,
    ref: string,
    refType: string,
    lastCommit: CommitInfo,
    forList: boolean,
  ): Promise<Record<string, unknown>> {
    const type = contentTypeOf(e);
    const self = `${apiRepoUrl()}/contents/${escapeSegments(e.path)}?ref=${goEscape(ref, 'query')}`;
    let encoding: string | null = null;
    let content: string | null = null;
    let target: string | null = null;
    if (type === 'file' && !forList) {
      encoding = 'base64';
      content = e.size <= DEFAULT_MAX_BLOB_SIZE ? (await readBlob(e.sha)).toString('base64') : '';
    } else if (type === 'symlink') {
      target = (await readBlob(e.sha)).subarray(0, 1024).toString('utf8');
    }
    const where = `${goEscape(refType, 'segment')}/${escapeSegments(ref)}/${escapeSegments(e.path)}`;
    const html = type === 'submodule' ? null : `${htmlRepoUrl()}/src/${where}`;
    const gitUrl = type === 'submodule' ? null : `${apiRepoUrl()}/git/${e.type}s/${e.sha}`;
    const download = type === 'file' || type === 'symlink' ? `${htmlRepoUrl()}/raw/${where}` : null;
    return {
      name: path.posix.basename(e.path),
      path: e.path,
      sha: e.sha,
      last_commit_sha: lastCommit.sha,
      last_commit_when: sigTime(lastCommit.committer),
      type,
      size: type === 'file' || type === 'symlink' ? e.size : 0,
      encoding,
      content,
      target,
      url: self,
      html_url: html,
      git_url: gitUrl,
      download_url: download,
      submodule_git_url: null,
      _links: { self, git: gitUrl, html },
    };
  }

  // ---------------------------------------------------------------------------- handlers

  /** §1/§2 GET contents (GetContentsOrList). */
  async function getContents(ctx: Ctx, rawPath: string): Promise<Reply> {
    const ref = (ctx.query.get('ref') ?? '').trim() || defaultBranch;
    const commitSha = await resolveCommit(ref);
    // An empty repository answers [] for any path and ref.
    if (!commitSha && (await isEmptyRepo())) return { status: 200, body: [] };
    if (rawPath.split('/').includes('..')) throw serverError('path with .. segments');
    const treePath = cleanUploadFileName(rawPath);
    if (treePath === '' && rawPath !== '')
      throw serverError(`path contains a malformed path component [path: ${rawPath}]`);
    if (!commitSha) throw notFound('GetContentsOrList', [`object does not exist [id: ${ref}, rel_path: ]`]);
    const index = await pathIndex(commitSha);
    const refType = await refTypeOf(ref);
    const entry: Entry | undefined =
      treePath === '' ? { mode: '040000', type: 'tree', sha: '', size: 0, path: '' } : index.get(treePath);
    if (!entry) throw notFound('GetContentsOrList', [`object does not exist [id: , rel_path: ${treePath}]`]);
    if (entry.type !== 'tree') {
      const last = await readCommit(await lastCommitOf(commitSha, treePath));
      return { status: 200, body: await contentsOf(entry, ref, refType, last, false) };
    }
    const children = await lsTree(treePath === '' ? commitSha : entry.sha, false);
    if (children.length === 0) return { status: 200, body: null }; // a nil Go slice
    const list = await mapLimit(children, 8, async (c) => {
      const full = { ...c, path: treePath ? `${treePath}/${c.path}` : c.path };
      const last = await readCommit(await lastCommitOf(commitSha, full.path));
      return contentsOf(full, ref, refType, last, true);
    });
    return { status: 200, body: list };
  }

  /** §3 GET raw / media. */
  async function getRaw(ctx: Ctx, rawPath: string): Promise<Reply> {
    let commitSha: string | null;
    let treePath: string;
    const ref = (ctx.query.get('ref') ?? '').trim();
    if (ref) {
      commitSha = await resolveCommit(ref); // an empty repository ends here too
      if (!commitSha) throw notFound();
      treePath = rawPath;
    } else {
      const refs = await listRefs();
      if (refs.branches.size === 0) throw notFound();
      // No ?ref: the leading path segments are tried as a branch, then a tag (shortest prefix first),
      // then a full commit sha; otherwise the whole path is read from the default branch.
      const parts = rawPath.split('/');
      let found: { sha: string; rest: string } | null = null;
      for (const names of [refs.branches, refs.tags]) {
        for (let i = 1; i <= parts.length && !found; i++) {
          const sha = names.get(parts.slice(0, i).join('/'));
          if (sha) found = { sha, rest: parts.slice(i).join('/') };
        }
        if (found) break;
      }
      if (!found && /^[0-9a-f]{40}$/.test(parts[0])) {
        const sha = await resolveCommit(parts[0]);
        if (!sha) throw notFound('GetCommit', [`object does not exist [id: ${parts[0]}, rel_path: ]`]);
        found = { sha, rest: parts.slice(1).join('/') };
      }
      if (!found) {
        const sha = refs.branches.get(defaultBranch);
        if (!sha) throw notFound(`not exist: '${rawPath}'`);
        found = { sha, rest: rawPath };
      }
      commitSha = found.sha;
      treePath = found.rest;
    }
    const cleaned = treePath === '' ? '' : goClean(treePath);
    const entry = cleaned === '' ? undefined : (await pathIndex(commitSha)).get(cleaned);
    if (cleaned === '' || entry?.type === 'tree' || entry?.type === 'commit')
      throw notFound('getBlobForEntry');
    if (!entry) throw notFound();
    const last = await readCommit(await lastCommitOf(commitSha, cleaned));
    const objectType = contentTypeOf(entry);
    const etag = `"${entry.sha}"`;
    const lastModified = new Date(last.committer.unix * 1000).toUTCString();
    const headers: Record<string, string> = {
      'x-forgejo-object-type': objectType,
      'x-gitea-object-type': objectType,
      etag,
      'last-modified': lastModified,
    };
    const inm = ctx.headers['if-none-match'];
    if (inm) {
      if (inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) return { status: 304, headers };
    } else {
      const ims = Date.parse(String(ctx.headers['if-modified-since'] ?? ''));
      if (!Number.isNaN(ims) && last.committer.unix <= Math.floor(ims / 1000))
        return { status: 304, headers };
    }
    const data = await readBlob(entry.sha);
    const sniff = data.subarray(0, 1024);
    const isText = !sniff.some(
      (b) => b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f),
    );
    const filename = path.posix.basename(cleaned);
    return {
      status: 200,
      body: data,
      headers: {
        ...headers,
        'content-type': isText ? 'text/plain; charset=utf-8' : 'application/octet-stream',
        'x-content-type-options': 'nosniff',
        'content-disposition': `inline; filename="${filename.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"; filename*=UTF-8''${goEscape(filename, 'segment')}`,
        'access-control-expose-headers': 'Content-Disposition',
      },
    };
  }

  async function commitFilesAndStats(
    c: CommitInfo,
    withFiles: boolean,
    withStat: boolean,
  ): Promise<{ files: unknown; stats: unknown }> {
    let files: unknown = null;
    let stats: unknown = null;
    if (withFiles) {
      const key = `files:${c.sha}`;
      files = diffCache.get(key);
      if (!files) {
        const out = await git.text([
          'log',
          '--name-status',
          '-c',
          '--no-renames',
          '--pretty=format:',
          '-z',
          '-1',
          c.sha,
        ]);
        const parts = out.replace(/^[\n\0]+/, '').split('\0');
        const groups: Record<string, string[]> = { added: [], removed: [], modified: [] };
        for (let i = 0; i + 1 < parts.length; i += 2) {
          const status = { A: 'added', D: 'removed', M: 'modified' }[parts[i].replace(/^\n/, '')[0] ?? ''];
          if (status) groups[status].push(parts[i + 1]);
        }
        files = boundedSet(
          diffCache,
          key,
          (['added', 'removed', 'modified'] as const).flatMap((status) =>
            groups[status].map((filename) => ({ filename, status })),
          ),
        );
      }
    }
    if (withStat) {
      const key = `stat:${c.sha}`;
      stats = diffCache.get(key);
      if (!stats) {
        const args = c.parents.length
          ? ['diff-tree', '--numstat', '-r', '--no-renames', c.parents[0], c.sha]
          : ['diff-tree', '--numstat', '-r', '--no-renames', '--root', c.sha];
        let additions = 0;
        let deletions = 0;
        for (const line of (await git.text(args)).split('\n')) {
          const m = /^(\d+|-)\t(\d+|-)\t/.exec(line);
          if (!m) continue;
          additions += m[1] === '-' ? 0 : Number(m[1]);
          deletions += m[2] === '-' ? 0 : Number(m[2]);
        }
        stats = boundedSet(diffCache, key, { total: additions + deletions, additions, deletions });
      }
    }
    return { files, stats };
  }

  /** convert.ToCommit */
  async function apiCommit(c: CommitInfo, opts: { stat: boolean; files: boolean; verification: boolean }) {
    const { files, stats } = await commitFilesAndStats(c, opts.files, opts.stat);
    const url = `${apiRepoUrl()}/git/commits/${c.sha}`;
    return {
      url,
      sha: c.sha,
      created: sigTime(c.committer),
      html_url: `${htmlRepoUrl()}/commit/${c.sha}`,
      commit: {
        url,
        author: { name: c.author.name, email: c.author.email, date: sigTime(c.author) },
        committer: { name: c.committer.name, email: c.committer.email, date: sigTime(c.committer) },
        message: c.message,
        tree: { url: `${apiRepoUrl()}/git/trees/${c.sha}`, sha: c.sha, created: sigTime(c.committer) },
        verification: opts.verification ? verificationOf(c) : null,
      },
      author: apiUser(c.author.email),
      committer: apiUser(c.committer.email),
      parents: c.parents.map((p) => ({
        url: `${apiRepoUrl()}/git/commits/${p}`,
        sha: p,
        created: GO_ZERO_TIME,
      })),
      files,
      stats,
    };
  }

  /** ctx.SetLinkHeader (genAPILinks with the paginater's clamping). */
  function linkHeader(ctx: Ctx, total: number, pageSize: number): string | undefined {
    const size = pageSize <= 0 ? 1 : pageSize;
    const totalPages = total === 0 ? 1 : Math.ceil(total / size);
    let current = formInt(ctx.query, 'page');
    if (current <= 0) current = 1;
    if (current > totalPages) current = totalPages;
    const hasNext = total > current * size;
    const isLast = total === 0 ? true : total > (current - 1) * size && !hasNext;
    const base = `${rootUrl}/api/v1${ctx.apiPath}`;
    const at = (page: number) => {
      const q = new URLSearchParams(ctx.rawQuery);
      q.set('page', String(page));
      return `<${base}?${goValuesEncode(q)}>`;
    };
    const links: string[] = [];
    if (hasNext) links.push(`${at(current + 1)}; rel="next"`);
    if (!isLast) links.push(`${at(totalPages)}; rel="last"`);
    if (current !== 1) links.push(`${at(1)}; rel="first"`);
    if (current > 1) links.push(`${at(current - 1)}; rel="prev"`);
    return links.length ? links.join(',') : undefined;
  }

  /** §4 GET commits (GetAllCommits). */
  async function getCommits(ctx: Ctx): Promise<Reply> {
    // The empty-repository check comes first in Forgejo; here it is made when a look-up fails.
    const conflictIfEmpty = async () => {
      if (await isEmptyRepo()) throw apiError(409, 'Git Repository is empty.');
    };
    let page = formInt(ctx.query, 'page');
    if (page <= 0) page = 1;
    let limit = formInt(ctx.query, 'limit');
    if (limit <= 0) limit = DEFAULT_PAGING_NUM;
    else if (limit > MAX_RESPONSE_ITEMS) limit = MAX_RESPONSE_ITEMS;
    if (limit > COMMITS_RANGE_SIZE) limit = COMMITS_RANGE_SIZE;
    const optBool = (k: string) => (ctx.query.get(k) ?? '') === '' || parseBool(ctx.query.get(k) ?? '');
    const opts = { stat: optBool('stat'), files: optBool('files'), verification: optBool('verification') };
    let sha = ctx.query.get('sha') ?? '';
    const filePath = ctx.query.get('path') ?? '';
    const not = ctx.query.get('not') ?? '';
    const notArgs = not ? ['--not', not] : [];
    if ([sha, not].some((a) => a.startsWith('-'))) {
      await conflictIfEmpty();
      throw serverError('arguments must not start with a dash');
    }

    let total: number;
    let shas: string[];
    if (filePath === '') {
      const base = await resolveCommit(sha === '' ? `refs/heads/${defaultBranch}` : sha);
      if (!base) {
        await conflictIfEmpty();
        return { status: 404, body: null }; // NotFoundOrServerError: a JSON null
      }
      const out = await git.run(['rev-list', base, ...notArgs]);
      if (out.code !== 0) throw serverError(`CommitsCount: ${out.stderr}`);
      const all = out.stdout.toString('utf8').split('\n').filter(Boolean);
      total = all.length;
      shas = all.slice((page - 1) * limit, page * limit);
    } else {
      if (sha === '') sha = defaultBranch;
      const out = await git.run(['rev-list', sha, ...notArgs, '--', filePath]);
      if (out.code !== 0) {
        await conflictIfEmpty();
        throw serverError(`FileCommitsCount: ${out.stderr}`);
      }
      const all = out.stdout.toString('utf8').split('\n').filter(Boolean);
      total = all.length;
      if (total === 0) throw notFound('FileCommitsCount');
      // CommitsByFileAndRange pages by [git] COMMITS_RANGE_SIZE, whatever limit says.
      shas = all.slice((page - 1) * COMMITS_RANGE_SIZE, page * COMMITS_RANGE_SIZE);
    }
    const infos = await readCommits(shas);
    const body = await mapLimit(shas, 8, (s) => {
      const c = infos.get(s);
      if (!c) throw new Error(`commit ${s} unreadable`);
      return apiCommit(c, opts);
    });
    const pageCount = Math.ceil(total / limit);
    const headers: Record<string, string> = {};
    const link = linkHeader(ctx, total, limit);
    const expose = ['X-Total-Count', 'X-Page', 'X-PerPage', 'X-Total', 'X-PageCount', 'X-HasMore'];
    if (link) {
      headers.link = link;
      expose.unshift('Link');
    }
    Object.assign(headers, {
      'x-total-count': String(total),
      'x-page': String(page),
      'x-perpage': String(limit),
      'x-total': String(total),
      'x-pagecount': String(pageCount),
      'x-hasmore': String(page < pageCount),
      'access-control-expose-headers': expose.join(', '),
    });
    return { status: 200, body, headers };
  }

  /** §6 GET git/trees/{sha} (GetTreeBySHA). */
  async function getTree(ctx: Ctx, sha: string): Promise<Reply> {
    const shaNotFound = () => apiError(400, `sha not found [${sha}]`);
    if (!sha || sha.startsWith('-') || /[\0\n]/.test(sha)) throw shaNotFound();
    // GetTree: a name that is not a full sha goes through `cat-file --batch-check` (GetRefCommitID).
    const o = remember(await cat.get(sha));
    if (!o) throw shaNotFound();
    const resolved = o.sha;
    let treeSha: string | undefined;
    if (o.type === 'tree') treeSha = o.sha;
    else if (o.type === 'commit') treeSha = (await readCommit(o.sha)).tree;
    else if (o.type === 'tag') treeSha = (await cat.get(`${o.sha}^{tree}`))?.sha;
    if (!treeSha) throw shaNotFound();
    const entries = await lsTree(treeSha, parseBool(ctx.query.get('recursive') ?? ''));
    let page = formInt(ctx.query, 'page');
    if (page <= 0) page = 1;
    let perPage = formInt(ctx.query, 'per_page');
    if (perPage <= 0 || perPage > DEFAULT_GIT_TREES_PER_PAGE) perPage = DEFAULT_GIT_TREES_PER_PAGE;
    const body: Record<string, unknown> = {
      sha: resolved,
      url: `${apiRepoUrl()}/git/trees/${resolved}`,
      tree: null,
      truncated: false,
      page,
      total_count: entries.length,
    };
    const start = perPage * (page - 1);
    if (start < entries.length) {
      body.truncated = entries.length > perPage;
      body.tree = entries.slice(start, start + perPage).map((e) => ({
        path: e.path,
        mode: e.mode,
        type: e.type,
        size: e.size,
        sha: e.sha,
        url:
          e.type === 'tree'
            ? `${apiRepoUrl()}/git/trees/${e.sha}`
            : e.type === 'commit'
              ? ''
              : `${apiRepoUrl()}/git/blobs/${e.sha}`,
      }));
    }
    return {
      status: 200,
      body,
      headers: { 'x-total-count': String(entries.length), 'access-control-expose-headers': 'X-Total-Count' },
    };
  }

  /** §7 GET branches/{branch}. */
  async function getBranch(ctx: Ctx, name: string): Promise<Reply> {
    const sha = await branchHead(name);
    if (!sha) throw notFound(NOT_FOUND_MESSAGE, [`branch does not exist [name: ${name}]`]);
    const c = await readCommit(sha);
    const username = (email: string) =>
      email.toLowerCase() === FAKE_FORGE_USER.email ? FAKE_FORGE_USER.login : '';
    const signedIn = ctx.auth.kind !== 'anonymous';
    return {
      status: 200,
      body: {
        name,
        commit: {
          id: c.sha,
          message: c.message,
          url: `${htmlRepoUrl()}/commit/${c.sha}`,
          author: { name: c.author.name, email: c.author.email, username: username(c.author.email) },
          committer: {
            name: c.committer.name,
            email: c.committer.email,
            username: username(c.committer.email),
          },
          verification: verificationOf(c),
          timestamp: sigTime(c.author),
          added: null,
          removed: null,
          modified: null,
        },
        protected: false,
        required_approvals: 0,
        enable_status_check: false,
        status_check_contexts: [],
        user_can_push: signedIn,
        user_can_merge: signedIn,
        effective_branch_protection_name: '',
      },
    };
  }

  // ---------------------------------------------------------------------------- writes

  interface FileOp {
    operation: string;
    treePath: string;
    fromTreePath: string;
    content: Buffer;
    sha: string;
  }

  interface CommitPlan {
    parent: string | null;
    ops: ({ kind: 'delete'; path: string } | { kind: 'write'; path: string; mode: string; data: Buffer })[];
    author: Sig;
    committer: Sig;
    message: string;
  }

  const writeLock = new Mutex();

  /** Write a commit with fast-import, then move the branch with a compare-and-swap. */
  async function writeCommit(plan: CommitPlan, branch: string, expectedOld: string | null): Promise<string> {
    const chunks: Buffer[] = [];
    const put = (s: string) => chunks.push(Buffer.from(s, 'utf8'));
    const sig = (s: Sig) => `${sanitizeIdent(s.name)} <${sanitizeIdent(s.email)}> ${s.unix} ${s.tz}`;
    const msg = Buffer.from(plan.message, 'utf8');
    if (!plan.parent) put(`reset ${TMP_REF}\n`);
    put(
      `commit ${TMP_REF}\nauthor ${sig(plan.author)}\ncommitter ${sig(plan.committer)}\ndata ${msg.length}\n`,
    );
    chunks.push(msg);
    put('\n');
    if (plan.parent) put(`from ${plan.parent}\n`);
    for (const op of plan.ops) {
      if (op.kind === 'delete') put(`D ${fiPath(op.path)}\n`);
      else {
        put(`M ${op.mode} inline ${fiPath(op.path)}\ndata ${op.data.length}\n`);
        chunks.push(op.data);
        put('\n');
      }
    }
    put('done\n');
    await git.ok(['fast-import', '--quiet', '--force', '--done'], Buffer.concat(chunks));
    const sha = (await cat.get(TMP_REF))?.sha;
    if (!sha) throw new Error('fast-import wrote no commit');
    const r = await git.run(
      ['update-ref', '--stdin'],
      `update refs/heads/${branch} ${sha} ${expectedOld ?? ZERO_SHA}\ndelete ${TMP_REF}\n`,
    );
    if (r.code !== 0) throw serverError(`push rejected (non-fast-forward?): ${r.stderr.trim()}`);
    return sha;
  }

  const nowSig = (who: { name: string; email: string }, when?: { unix: number; tz: string } | null): Sig => ({
    name: who.name,
    email: who.email,
    unix: when?.unix ?? Math.floor(Date.now() / 1000),
    tz: when?.tz ?? '+0000',
  });

  /** files_service.GetFileCommitResponse */
  function fileCommitResponse(c: CommitInfo) {
    const utc = (s: Sig) => goTime(s.unix);
    return {
      url: `${apiRepoUrl()}/git/commits/${c.sha}`,
      sha: c.sha,
      created: GO_ZERO_TIME,
      html_url: `${htmlRepoUrl()}/commit/${c.sha}`,
      author: { name: c.author.name, email: c.author.email, date: utc(c.author) },
      committer: { name: c.committer.name, email: c.committer.email, date: utc(c.committer) },
      parents: c.parents.map((p) => ({
        url: `${apiRepoUrl()}/git/commits/${p}`,
        sha: p,
        created: GO_ZERO_TIME,
      })),
      message: c.message,
      tree: { url: `${apiRepoUrl()}/git/trees/${c.tree}`, sha: c.tree, created: GO_ZERO_TIME },
    };
  }

  const unprocessable = (message: string) => apiError(422, message);

  function parseJsonBody(ctx: Ctx): Record<string, unknown> {
    const type = String(ctx.headers['content-type'] ?? '');
    if (!type.includes('json'))
      throw unprocessable(`[]: ${type ? 'Unsupported Content-Type' : 'Empty Content-Type'}`);
    if (ctx.body.length === 0) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(ctx.body.toString('utf8'));
    } catch (e) {
      throw unprocessable(`[]: ${(e as Error).message}`);
    }
    if (parsed === null) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed))
      throw unprocessable('[]: json: cannot unmarshal into Go value of type api.FileOptions');
    return parsed as Record<string, unknown>;
  }

  function str(o: Record<string, unknown>, key: string): string {
    const v = o[key];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string')
      throw unprocessable(
        `[]: json: cannot unmarshal ${typeof v} into Go struct field .${key} of type string`,
      );
    return v;
  }

  function identity(o: Record<string, unknown>, key: string): { name: string; email: string } | null {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v))
      throw unprocessable(`[]: json: cannot unmarshal into Go struct field .${key}`);
    const id = {
      name: str(v as Record<string, unknown>, 'name'),
      email: str(v as Record<string, unknown>, 'email'),
    };
    return id.email ? id : null;
  }

  /** §5: create (POST contents/{path}), update (PUT contents/{path}), change files (POST contents). */
  async function changeFiles(ctx: Ctx, kind: 'create' | 'update' | 'batch', urlPath: string): Promise<Reply> {
    if (ctx.auth.kind === 'anonymous') throw apiError(401, 'token is required');
    const body = parseJsonBody(ctx);
    // binding: FileOptions fields come first, then the operation's own fields.
    const message = str(body, 'message');
    const branch = str(body, 'branch');
    const newBranch = str(body, 'new_branch');
    if (branch && !isValidBranchName(branch)) throw unprocessable('[BranchName]: GitRefName');
    if (newBranch && !isValidBranchName(newBranch)) throw unprocessable('[NewBranchName]: GitRefName');
    const author = identity(body, 'author');
    const committer = identity(body, 'committer');
    const dates = (body.dates ?? {}) as Record<string, unknown>;
    const dateOf = (k: string) => {
      const v = str(dates, k);
      if (v && !RFC3339.test(v)) throw unprocessable(`[]: parsing time "${JSON.stringify(v)}" as RFC3339`);
      return v ? gitTimeOf(v) : null;
    };
    const authorDate = dateOf('author');
    const committerDate = dateOf('committer');
    const signoff = body.signoff === true;

    const raw: { operation: string; path: string; content: string; sha: string; fromPath: string }[] = [];
    if (kind === 'batch') {
      const files = body.files;
      if (files !== undefined && files !== null && !Array.isArray(files))
        throw unprocessable('[]: json: cannot unmarshal into Go struct field ChangeFilesOptions.files');
      if (!Array.isArray(files) || files.length === 0) throw unprocessable('[Files]: Required');
      for (const f of files) {
        if (typeof f !== 'object' || f === null)
          throw unprocessable('[]: json: cannot unmarshal into Go value');
        const o = f as Record<string, unknown>;
        const op = {
          operation: str(o, 'operation'),
          path: str(o, 'path'),
          content: str(o, 'content'),
          sha: str(o, 'sha'),
          fromPath: str(o, 'from_path'),
        };
        if (!op.operation) throw unprocessable('[Operation]: Required');
        if (!['create', 'update', 'delete'].includes(op.operation)) throw unprocessable('[Operation]: In');
        if (!op.path) throw unprocessable('[Path]: Required');
        if (op.path.length > 500) throw unprocessable('[Path]: MaxSize');
        raw.push(op);
      }
    } else {
      const sha = kind === 'update' ? str(body, 'sha') : '';
      if (kind === 'update' && !sha) throw unprocessable('[SHA]: Required');
      raw.push({
        operation: kind,
        path: urlPath,
        content: str(body, 'content'),
        sha,
        fromPath: kind === 'update' ? str(body, 'from_path') : '',
      });
    }
    const ops: FileOp[] = [];
    for (const r of raw) {
      const decoded = decodeStdBase64(r.content);
      if (typeof decoded === 'string') throw unprocessable(decoded);
      ops.push({
        operation: r.operation,
        treePath: r.path,
        fromTreePath: r.fromPath,
        content: decoded,
        sha: r.sha,
      });
    }
    let commitMessage = message.trim();
    if (!commitMessage) {
      const lines: string[] = [];
      for (const [opName, verb] of [
        ['create', 'Add'],
        ['update', 'Update'],
        ['delete', 'Delete'],
      ] as const) {
        const names = ops.filter((o) => o.operation === opName).map((o) => o.treePath);
        if (names.length) lines.push(`${verb} ${names.join(', ')}`);
      }
      commitMessage = lines.join('\n');
    }

    return writeLock.run(async () => {
      const refs = await listRefs();
      const empty = refs.branches.size === 0;
      const oldBranch = branch || defaultBranch;
      const targetBranch = newBranch || oldBranch;
      const base = refs.branches.get(oldBranch) ?? null;
      if (!base && !empty) throw apiError(404, `branch does not exist [name: ${oldBranch}]`);
      const treePaths: string[] = [];
      for (const op of ops) {
        if (!op.fromTreePath) op.fromTreePath = op.treePath;
        const clean = cleanUploadFileName(op.treePath);
        if (clean === '' || clean === '.')
          throw unprocessable(`path contains a malformed path component [path: ${op.treePath}]`);
        const cleanFrom = cleanUploadFileName(op.fromTreePath);
        if (cleanFrom === '' || cleanFrom === '.')
          throw unprocessable(`path contains a malformed path component [path: ${op.fromTreePath}]`);
        op.treePath = clean;
        op.fromTreePath = cleanFrom;
        treePaths.push(clean);
      }
      if (targetBranch !== oldBranch && refs.branches.has(targetBranch))
        throw unprocessable(`branch already exists [name: ${targetBranch}]`);
      if (!base && ops.some((o) => o.operation === 'delete'))
        throw apiError(404, `branch does not exist [name: ${oldBranch}]`);

      const index = base ? await pathIndex(base) : new Map<string, Entry>();
      if (base) {
        for (const op of ops) {
          if (op.operation === 'delete' && index.get(op.treePath)?.type !== 'blob')
            throw serverError(`repository file does not exist [path: ${op.treePath}]`);
        }
        for (const op of ops) {
          if (op.operation === 'update' || op.operation === 'delete') {
            const from = index.get(op.fromTreePath);
            if (!from) throw serverError(`object does not exist [id: , rel_path: ${op.fromTreePath}]`);
            if (!op.sha) throw unprocessable('a SHA or commit ID must be proved when updating a file');
            if (op.sha !== from.sha)
              throw unprocessable(`sha does not match [given: ${op.sha}, expected: ${from.sha}]`);
          }
          if (op.operation === 'create' || op.operation === 'update') {
            const parts = op.treePath.split('/');
            for (let i = 0; i < parts.length; i++) {
              const sub = parts.slice(0, i + 1).join('/');
              const e = index.get(sub);
              if (!e) break;
              if (i < parts.length - 1) {
                if (e.type !== 'tree')
                  throw unprocessable(
                    `a file exists where you’re trying to create a subdirectory [path: ${sub}]`,
                  );
              } else if (e.mode === '120000') {
                throw unprocessable(
                  `a symbolic link exists where you’re trying to create a subdirectory [path: ${sub}]`,
                );
              } else if (e.type === 'tree') {
                throw unprocessable(`a directory exists where you’re trying to create a file [path: ${sub}]`);
              } else if (op.fromTreePath !== op.treePath || op.operation === 'create') {
                throw unprocessable(`repository file already exists [path: ${op.treePath}]`);
              }
            }
          }
        }
      }
      // Apply to an in-memory view of the index (files only), like the temporary clone's index.
      const files = new Map<string, string>();
      for (const e of index.values()) if (e.type !== 'tree') files.set(e.path, e.mode);
      const plan: CommitPlan['ops'] = [];
      for (const op of ops) {
        if (op.operation === 'delete') {
          files.delete(op.treePath);
          plan.push({ kind: 'delete', path: op.treePath });
          continue;
        }
        if (op.operation === 'create' && files.has(op.treePath))
          throw unprocessable(`repository file already exists [path: ${op.treePath}]`);
        const mode = files.get(op.fromTreePath) === '100755' ? '100755' : '100644';
        if (op.fromTreePath !== op.treePath && files.has(op.fromTreePath)) {
          files.delete(op.fromTreePath);
          plan.push({ kind: 'delete', path: op.fromTreePath });
        }
        files.set(op.treePath, mode);
        plan.push({ kind: 'write', path: op.treePath, mode, data: op.content });
      }
      for (const p of files.keys()) {
        const parts = p.split('/');
        for (let i = 1; i < parts.length; i++)
          if (files.has(parts.slice(0, i).join('/')))
            throw serverError(`'${p}' appears as both a file and a directory`);
      }

      const doer = { name: FAKE_FORGE_USER.login, email: FAKE_FORGE_USER.email };
      const authorId = author ?? committer ?? doer;
      const committerId = committer ?? authorId;
      const authorSig = nowSig(authorId, authorDate);
      const committerSig = nowSig(committerId, committerDate);
      let fullMessage = `${commitMessage}\n`;
      if (signoff) fullMessage += `\nSigned-off-by: ${committerSig.name} <${committerSig.email}>`;
      const sha = await writeCommit(
        { parent: base, ops: plan, author: authorSig, committer: committerSig, message: fullMessage },
        targetBranch,
        targetBranch === oldBranch ? base : null,
      );
      if (empty && targetBranch !== defaultBranch) {
        defaultBranch = targetBranch;
        await git.ok(['symbolic-ref', 'HEAD', `refs/heads/${defaultBranch}`]);
      }
      const commit = await readCommit(sha);
      const newIndex = await pathIndex(sha);
      const refType = 'branch';
      const contents = await Promise.all(
        treePaths.map(async (p) => {
          const e = newIndex.get(p);
          if (!e) return null;
          return contentsOf(e, targetBranch, refType, await readCommit(await lastCommitOf(sha, p)), false);
        }),
      );
      const fileCommit = fileCommitResponse(commit);
      const verification = verificationOf(commit);
      if (kind === 'batch')
        return { status: 201, body: { files: contents, commit: fileCommit, verification } };
      return {
        status: kind === 'create' ? 201 : 200,
        body: { content: contents[0], commit: fileCommit, verification },
      };
    });
  }

  // ---------------------------------------------------------------------------- auth & routing

  function authenticate(headers: IncomingMessage['headers']): Ctx['auth'] | HttpError {
    const header = String(headers.authorization ?? '');
    if (!header) return { kind: 'anonymous' };
    const fields = header.trim().split(/\s+/);
    if (fields.length === 2 && (fields[0] === 'token' || fields[0].toLowerCase() === 'bearer')) {
      const scopes = tokens[fields[1]];
      if (!scopes) return apiError(401, 'user does not exist [uid: 0, name: ]');
      return { kind: 'token', scopes };
    }
    const [scheme, payload = ''] = header.split(' ', 2);
    if (scheme.toLowerCase() !== 'basic') return { kind: 'anonymous' };
    const decoded = Buffer.from(payload, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { kind: 'anonymous' };
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    const token = pass === '' || pass === 'x-oauth-basic' ? user : pass;
    const scopes = tokens[token];
    if (scopes) return { kind: 'token', scopes };
    if (user.toLowerCase() === FAKE_FORGE_USER.login)
      return apiError(401, `user's password is invalid [uid: 1, name: ${FAKE_FORGE_USER.login}]`);
    return apiError(401, `user does not exist [uid: 0, name: ${user}]`);
  }

  function hasScope(scopes: string[], required: string): boolean {
    const [level, category] = required.split(':');
    return scopes.some(
      (s) =>
        s === 'all' ||
        s === required ||
        (level === 'read' && s === `write:${category}`) ||
        s === `${level}:all` ||
        (level === 'read' && s === 'write:all'),
    );
  }

  type Handler = (ctx: Ctx, param: string) => Promise<Reply>;
  const repoRoutes: { re: RegExp; methods: Record<string, Handler> }[] = [
    {
      re: /^\/contents\/?$/,
      methods: { GET: (ctx) => getContents(ctx, ''), POST: (ctx) => changeFiles(ctx, 'batch', '') },
    },
    {
      re: /^\/contents\/(.+)$/,
      methods: {
        GET: getContents,
        POST: (ctx, p) => changeFiles(ctx, 'create', p),
        PUT: (ctx, p) => changeFiles(ctx, 'update', p),
      },
    },
    { re: /^\/raw\/(.*)$/, methods: { GET: getRaw } },
    { re: /^\/media\/(.*)$/, methods: { GET: getRaw } },
    { re: /^\/commits$/, methods: { GET: (ctx) => getCommits(ctx) } },
    { re: /^\/git\/trees\/([^/]+)$/, methods: { GET: getTree } },
    { re: /^\/branches\/(.+)$/, methods: { GET: getBranch } },
  ];

  async function route(ctx: Ctx): Promise<Reply> {
    if (ctx.apiPath === '/version') {
      if (ctx.method !== 'GET') return { status: 405, body: Buffer.from('Method Not Allowed\n') };
      return { status: 200, body: { version: '12.0.0+fake' } };
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(ctx.apiPath);
    if (!m) throw notFound();
    const sub = m[3] ?? '';
    let handler: Handler | undefined;
    let param = '';
    for (const r of repoRoutes) {
      const rm = r.re.exec(sub);
      if (!rm) continue;
      handler = r.methods[ctx.method];
      if (!handler) return { status: 405, body: Buffer.from('Method Not Allowed\n') };
      try {
        param = decodeURIComponent(rm[1] ?? '');
      } catch {
        throw notFound();
      }
      break;
    }
    if (!handler) throw notFound();
    // tokenRequiresScopes(repository), then repoAssignment, then the route's own checks.
    if (ctx.auth.kind === 'token') {
      const required = ctx.method === 'GET' ? 'read:repository' : 'write:repository';
      if (!hasScope(ctx.auth.scopes, required))
        throw apiError(403, `token does not have at least one of required scope(s): [${required}]`);
    }
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    const reqOwner = decode(m[1]);
    const reqRepo = decode(m[2]);
    if (reqOwner.toLowerCase() !== owner.toLowerCase())
      throw notFound('GetUserByName', [`user redirect does not exist [name: ${reqOwner.toLowerCase()}]`]);
    if (reqRepo.toLowerCase() !== repoName.toLowerCase()) throw notFound();
    if (!publicRepo && ctx.auth.kind === 'anonymous') throw notFound();
    return handler(ctx, param);
  }

  // ---------------------------------------------------------------------------- server

  const requests: ForgeRequestLog[] = [];
  let faults: (FaultRule & { left: number })[] = [];

  function faultReply(rule: FaultRule): Reply {
    let body: unknown = rule.body;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule.headers ?? {})) headers[k.toLowerCase()] = v;
    if (body === undefined) {
      if (rule.status === 404) body = { errors: [], message: NOT_FOUND_MESSAGE, url: swaggerUrl() };
      else if (rule.status === 304 || rule.status === 204) body = undefined;
      else
        body = { message: rule.status === 500 ? '' : (STATUS_CODES[rule.status] ?? ''), url: swaggerUrl() };
    } else if (typeof body === 'string') {
      headers['content-type'] ??= 'text/plain; charset=utf-8';
      body = Buffer.from(body, 'utf8');
    }
    return { status: rule.status, body, headers };
  }

  function send(res: ServerResponse, reply: Reply) {
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    let payload: Buffer | undefined;
    if (Buffer.isBuffer(reply.body)) payload = reply.body;
    else if (reply.body !== undefined || (reply.status !== 304 && reply.status !== 204)) {
      payload = Buffer.from(goJson(reply.body ?? null), 'utf8');
      headers['content-type'] ??= 'application/json;charset=utf-8';
    }
    if (payload) headers['content-length'] = String(payload.length);
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
    const isApi = pathname === '/api/v1' || pathname.startsWith('/api/v1/');
    const apiPath = isApi ? pathname.slice('/api/v1'.length) : pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let reply: Reply;
    const target = rawQuery ? `${apiPath}?${rawQuery}` : apiPath;
    const fault = faults.find(
      (f) =>
        f.left > 0 &&
        (!f.method || f.method.toUpperCase() === method) &&
        (typeof f.path === 'string' ? target.includes(f.path) : f.path.test(target)),
    );
    if (fault) {
      fault.left -= 1;
      faults = faults.filter((f) => f.left > 0);
      reply = faultReply(fault);
    } else if (!isApi) {
      reply = {
        status: 404,
        body: Buffer.from('404 page not found\n'),
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      };
    } else {
      try {
        const auth = authenticate(req.headers);
        if (auth instanceof HttpError) throw auth;
        const ctx: Ctx = {
          method: method === 'HEAD' ? 'GET' : method,
          query: new URLSearchParams(rawQuery),
          rawQuery,
          apiPath,
          headers: req.headers,
          body: Buffer.concat(chunks),
          auth,
        };
        reply = await route(ctx);
      } catch (e) {
        reply =
          e instanceof HttpError ? e.reply : serverError(e instanceof Error ? e.message : String(e)).reply;
      }
    }
    requests.push({ method, path: apiPath, query: rawQuery, status: reply.status });
    send(res, reply);
  }

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  rootUrl = `http://127.0.0.1:${port}`;

  async function commitFiles(
    files: Record<string, string | Buffer | null>,
    opts: { message?: string; branch?: string; author?: { name: string; email: string } } = {},
  ): Promise<string> {
    return writeLock.run(async () => {
      const branch = opts.branch ?? defaultBranch;
      const current = await branchHead(branch);
      const parent = current ?? (await branchHead(defaultBranch));
      const who = opts.author ?? FAKE_FORGE_SEEDER;
      const ops: CommitPlan['ops'] = Object.entries(files).map(([p, content]) => {
        const clean = cleanUploadFileName(p);
        if (clean === '' || clean === '.') throw new Error(`commitFiles: invalid path ${JSON.stringify(p)}`);
        return content === null
          ? { kind: 'delete', path: clean }
          : {
              kind: 'write',
              path: clean,
              mode: '100644',
              data: Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'),
            };
      });
      const message = opts.message ?? `seed ${Object.keys(files).length} file(s)`;
      return writeCommit(
        {
          parent,
          ops,
          author: nowSig(who),
          committer: nowSig(who),
          message: message.endsWith('\n') ? message : `${message}\n`,
        },
        branch,
        current,
      );
    });
  }

  return {
    rootUrl,
    apiUrl: `${rootUrl}/api/v1`,
    owner,
    repo: repoName,
    token: Object.keys(tokens)[0] ?? '',
    gitDir,
    requests,
    injectFault(rule: FaultRule) {
      faults.push({ ...rule, left: rule.times ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    commitFiles,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await writeLock.run(async () => {});
      cat.close();
      if (ownedTmp) await rm(ownedTmp, { recursive: true, force: true });
    },
  };
}
