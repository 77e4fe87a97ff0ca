import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { backoffMs } from '../../lib/backoff.ts';
import type {
  NodeListing,
  PushResult,
  UsageFileContent,
  UsageFileRef,
  UsageNode,
  UsageSource,
} from './usage-source.ts';
import { redactUrl, UsageSourceError } from './usage-source.ts';

export interface ForgeSourceOptions {
  /** The forge's ROOT_URL, e.g. https://forge.example.org (the API is under /api/v1). */
  url: string;
  token: string;
  /** `owner/name` of the billing repository. */
  repo: string;
  branch: string;
  /** Per request. */
  timeoutMs?: number;
  /** Retries after a network error, a 5xx or a 429 (so `retries + 1` attempts). */
  retries?: number;
  /** First backoff; doubled on every retry, with jitter. */
  retryBaseMs?: number;
  /** Raw file downloads in flight. */
  concurrency?: number;
  dispatcher?: Dispatcher;
}

const TREE_PAGE = 1000;

interface TreeEntry {
  path: string;
  mode: string;
  type: string;
  size: number;
  sha: string;
}

interface TreeResponse {
  sha: string;
  tree: TreeEntry[] | null;
  truncated: boolean;
  page: number;
  total_count: number;
}

interface ForgeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Reads (and, for `usage push`, writes) the billing repository through a Forgejo/Gitea API v1
 * (docs/forge-api.md): `Authorization: token`, pagination, a timeout per request, retries
 * with backoff on network errors, 5xx and 429, and a clear error on 401/403/404.
 */
export class ForgeSource implements UsageSource {
  readonly description: string;
  private readonly api: string;
  private readonly owner: string;
  private readonly name: string;

  constructor(private readonly options: ForgeSourceOptions) {
    const [owner, name, ...rest] = options.repo.split('/');
    if (!owner || !name || rest.length)
      throw new UsageSourceError(`BILLING_REPO must be owner/name, not ${options.repo}`);
    this.owner = owner;
    this.name = name;
    this.api = `${options.url.replace(/\/+$/, '')}/api/v1`;
    this.description = `forge ${redactUrl(options.url.replace(/\/+$/, ''))} ${options.repo} (branch ${options.branch})`;
  }

  private repoPath(rest: string): string {
    return `/repos/${encodeURIComponent(this.owner)}/${encodeURIComponent(this.name)}${rest}`;
  }

  /** One API call with retries; answers any status the caller must interpret (2xx, 404, 409, 422…). */
  private async call(
    method: 'GET' | 'POST' | 'PUT',
    pathAndQuery: string,
    opts: { body?: unknown; signal?: AbortSignal; accept?: 'json' | 'raw' } = {},
  ): Promise<ForgeResponse> {
    const retries = this.options.retries ?? 3;
    const base = this.options.retryBaseMs ?? 500;
    let lastProblem = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        await sleep(backoffMs(attempt, { baseMs: base, jitter: 0.5 }), undefined, { signal: opts.signal });
      }
      opts.signal?.throwIfAborted();
      let res: ForgeResponse;
      try {
        const answer = await request(`${this.api}${pathAndQuery}`, {
          method,
          dispatcher: this.options.dispatcher,
          headers: {
            authorization: `token ${this.options.token}`,
            accept: opts.accept === 'raw' ? '*/*' : 'application/json',
            ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
          headersTimeout: this.options.timeoutMs ?? 30_000,
          bodyTimeout: this.options.timeoutMs ?? 30_000,
          signal: opts.signal,
        });
        const body = Buffer.from(await answer.body.arrayBuffer());
        res = { status: answer.statusCode, headers: answer.headers, body };
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        lastProblem = `${(err as Error).message}`;
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        lastProblem = `HTTP ${res.status}${apiMessage(res) ? `: ${apiMessage(res)}` : ''}`;
        const retryAfter = Number(res.headers['retry-after']);
        if (res.status === 429 && Number.isFinite(retryAfter) && retryAfter > 0 && attempt < retries) {
          await sleep(Math.min(retryAfter, 30) * 1000, undefined, { signal: opts.signal });
        }
        continue;
      }
      if (res.status === 401) {
        throw new UsageSourceError(
          `the forge refused the token (401 ${apiMessage(res) || 'unauthorized'}): check FORGE_TOKEN`,
          401,
        );
      }
      if (res.status === 403) {
        throw new UsageSourceError(
          `the forge forbids ${method} ${pathAndQuery.split('?')[0]} (403 ${apiMessage(res) || 'forbidden'})`,
          403,
        );
      }
      return res;
    }
    throw new UsageSourceError(
      `${method} ${this.api}${pathAndQuery.split('?')[0]} failed after ${retries + 1} attempts: ${lastProblem}`,
    );
  }

  private async getJson<T>(pathAndQuery: string, signal?: AbortSignal, what?: string): Promise<T> {
    const res = await this.call('GET', pathAndQuery, { signal });
    if (res.status === 404) {
      throw new UsageSourceError(
        `${what ?? pathAndQuery.split('?')[0]} not found on the forge (404${apiMessage(res) ? ` ${apiMessage(res)}` : ''}); check BILLING_REPO and the token's access`,
        404,
      );
    }
    if (res.status !== 200) throw unexpected(res, pathAndQuery);
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  /**
   * Readiness: GET of the branch (and, when it is missing, one commit of the repository, to tell
   * an empty repository from a missing one), without retries, bounded by `signal` and the
   * request timeout.
   */
  async check(signal: AbortSignal): Promise<void> {
    const branch = await this.probe(
      this.repoPath(`/branches/${encodeURIComponent(this.options.branch)}`),
      signal,
    );
    if (branch.status === 200) return;
    if (branch.status === 404) {
      const commits = await this.probe(
        this.repoPath('/commits?limit=1&stat=false&verification=false&files=false'),
        signal,
      );
      // 409: an empty repository (nothing to read yet, not a failure).
      if (commits.status === 409) return;
      if (commits.status === 200)
        throw new UsageSourceError(
          `branch ${this.options.branch} does not exist in ${this.options.repo}`,
          404,
        );
      if (commits.status === 404)
        throw new UsageSourceError(
          `repository ${this.options.repo} not found on the forge, or not visible to the token`,
          404,
        );
      throw probeError(commits);
    }
    throw probeError(branch);
  }

  /** One GET, no retries: the status and the API message. */
  private async probe(pathAndQuery: string, signal: AbortSignal): Promise<ForgeResponse> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    try {
      const answer = await request(`${this.api}${pathAndQuery}`, {
        method: 'GET',
        dispatcher: this.options.dispatcher,
        headers: { authorization: `token ${this.options.token}`, accept: 'application/json' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal,
      });
      const body = Buffer.from(await answer.body.arrayBuffer());
      return { status: answer.statusCode, headers: answer.headers, body };
    } catch (err) {
      throw new UsageSourceError(
        `the forge is unreachable: ${signal.aborted ? 'no answer in time' : (err as Error).message}`,
      );
    }
  }

  async head(signal?: AbortSignal): Promise<string | null> {
    const branch = encodeURIComponent(this.options.branch);
    const res = await this.call('GET', this.repoPath(`/branches/${branch}`), { signal });
    if (res.status === 200) {
      return (JSON.parse(res.body.toString('utf8')) as { commit: { id: string } }).commit.id;
    }
    if (res.status !== 404) throw unexpected(res, 'branch');
    // 404: an empty repository (nothing to read yet), a missing branch, or no such repository.
    const probe = await this.call(
      'GET',
      this.repoPath('/commits?limit=1&stat=false&verification=false&files=false'),
      {
        signal,
      },
    );
    if (probe.status === 409) return null;
    if (probe.status === 404) {
      throw new UsageSourceError(
        `repository ${this.options.repo} not found on the forge, or not visible to the token`,
        404,
      );
    }
    throw new UsageSourceError(`branch ${this.options.branch} does not exist in ${this.options.repo}`, 404);
  }

  /** Every entry of a tree, page by page (the `truncated` flag is set on every page; count instead). */
  private async tree(sha: string, recursive: boolean, signal?: AbortSignal): Promise<TreeEntry[]> {
    const entries: TreeEntry[] = [];
    for (let page = 1; ; page++) {
      const res = await this.call(
        'GET',
        this.repoPath(
          `/git/trees/${encodeURIComponent(sha)}?recursive=${recursive}&per_page=${TREE_PAGE}&page=${page}`,
        ),
        { signal },
      );
      if (res.status !== 200) throw unexpected(res, `tree ${sha}`);
      const body = JSON.parse(res.body.toString('utf8')) as TreeResponse;
      entries.push(...(body.tree ?? []));
      if (!body.tree || page * TREE_PAGE >= body.total_count) return entries;
    }
  }

  async listNodes(commit: string, signal?: AbortSignal): Promise<NodeListing> {
    const root = await this.tree(commit, false, signal);
    const nodesDir = root.find((e) => e.path === 'nodes' && e.type === 'tree');
    if (!nodesDir) return { nodes: [], others: [] };
    const entries = await this.tree(nodesDir.sha, false, signal);
    return {
      nodes: entries.filter((e) => e.type === 'tree').map((e) => ({ name: e.path, treeSha: e.sha })),
      others: entries.filter((e) => e.type !== 'tree').map((e) => `nodes/${e.path}`),
    };
  }

  async nodeCommit(node: UsageNode, commit: string, signal?: AbortSignal): Promise<string> {
    const query = new URLSearchParams({
      sha: commit,
      path: `nodes/${node.name}`,
      limit: '1',
      stat: 'false',
      verification: 'false',
      files: 'false',
    });
    const commits = await this.getJson<{ sha: string }[]>(
      this.repoPath(`/commits?${query}`),
      signal,
      `commits of nodes/${node.name}`,
    );
    if (!commits[0]?.sha) throw new UsageSourceError(`no commit touches nodes/${node.name} at ${commit}`);
    return commits[0].sha;
  }

  async listFiles(node: UsageNode, _commit: string, signal?: AbortSignal): Promise<UsageFileRef[]> {
    return (await this.tree(node.treeSha, true, signal))
      .filter((e) => e.type === 'blob')
      .map((e) => ({ path: `nodes/${node.name}/${e.path}`, blobSha: e.sha, size: e.size }));
  }

  private async raw(file: UsageFileRef, commit: string, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.call(
      'GET',
      this.repoPath(`/raw/${encodePath(file.path)}?ref=${encodeURIComponent(commit)}`),
      { signal, accept: 'raw' },
    );
    if (res.status === 404) throw new UsageSourceError(`${file.path} not found at ${commit} (404)`, 404);
    if (res.status !== 200) throw unexpected(res, file.path);
    return res.body;
  }

  /** Downloads with bounded parallelism, yielding in the order given. */
  async *readFiles(
    files: UsageFileRef[],
    commit: string,
    signal?: AbortSignal,
  ): AsyncIterable<UsageFileContent> {
    const width = Math.max(1, this.options.concurrency ?? 4);
    const inFlight: Promise<Buffer>[] = [];
    let next = 0;
    const start = () => {
      const file = files[next++];
      const p = this.raw(file, commit, signal);
      p.catch(() => {}); // surfaced when awaited below
      inFlight.push(p);
    };
    while (next < files.length && inFlight.length < width) start();
    for (const file of files) {
      const content = await (inFlight.shift() as Promise<Buffer>);
      if (next < files.length) start();
      yield { file, content };
    }
  }

  async putFile(
    filePath: string,
    content: Buffer,
    message: string,
    signal?: AbortSignal,
  ): Promise<PushResult> {
    const branch = this.options.branch;
    for (let attempt = 1; ; attempt++) {
      const current = await this.call(
        'GET',
        this.repoPath(`/contents/${encodePath(filePath)}?ref=${encodeURIComponent(branch)}`),
        { signal },
      );
      let sha: string | null = null;
      if (current.status === 200) {
        const body = JSON.parse(current.body.toString('utf8')) as { sha?: string; type?: string } | unknown[];
        // An empty repository answers [] for any path.
        if (!Array.isArray(body)) {
          if (body.type !== 'file') throw new UsageSourceError(`${filePath} exists and is not a file`);
          sha = body.sha ?? null;
        }
      } else if (current.status !== 404) {
        throw unexpected(current, filePath);
      }
      const payload = { content: content.toString('base64'), message, branch, ...(sha ? { sha } : {}) };
      const res = await this.call(sha ? 'PUT' : 'POST', this.repoPath(`/contents/${encodePath(filePath)}`), {
        body: payload,
        signal,
      });
      if (res.status === 200 || res.status === 201) {
        const body = JSON.parse(res.body.toString('utf8')) as { commit: { sha: string } };
        return { commitSha: body.commit.sha, updated: sha !== null };
      }
      // Someone wrote the file in between (exists / sha mismatch): read it again and retry.
      if ((res.status === 422 || res.status === 409) && attempt < 5) continue;
      throw unexpected(res, filePath);
    }
  }
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

function apiMessage(res: ForgeResponse): string {
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { message?: unknown } | null;
    return typeof body?.message === 'string' ? body.message : '';
  } catch {
    return '';
  }
}

function probeError(res: ForgeResponse): UsageSourceError {
  if (res.status === 401)
    return new UsageSourceError('the forge refused the token (401): check FORGE_TOKEN', 401);
  const message = apiMessage(res);
  return new UsageSourceError(
    `the forge answered HTTP ${res.status}${message ? ` ${message}` : ''}`,
    res.status,
  );
}

function unexpected(res: ForgeResponse, what: string): UsageSourceError {
  const message = apiMessage(res);
  return new UsageSourceError(
    `unexpected answer from the forge for ${what.split('?')[0]}: HTTP ${res.status}${message ? ` ${message}` : ''}`,
    res.status,
  );
}
