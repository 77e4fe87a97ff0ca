import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  NodeListing,
  PushResult,
  UsageFileContent,
  UsageFileRef,
  UsageNode,
  UsageSource,
} from './usage-source.ts';
import { redactUrl, UsageSourceError } from './usage-source.ts';

export interface GitSourceOptions {
  /** A repository path (bare or not) read in place, or any URL `git clone` takes. */
  url: string;
  branch: string;
  /** Where a mirror of a remote repository is kept (one directory per URL). */
  cacheDir: string;
  /** Per git command. */
  timeoutMs?: number;
  /** Committer of `putFile` commits. */
  author?: { name: string; email: string };
}

const MAX_BUFFER = 256 * 1024 * 1024;

interface GitResult {
  stdout: string;
  code: number;
}

/**
 * Reads the billing repository with the git CLI. A local path is read in place; a URL is
 * mirrored (a bare clone under `cacheDir`, fetched at every `head()`), and `putFile` commits
 * there and pushes.
 */
export class GitSource implements UsageSource {
  readonly description: string;
  private readonly timeoutMs: number;
  private gitDir: string | null = null;
  private remote = false;

  constructor(private readonly options: GitSourceOptions) {
    this.description = `git ${redactUrl(options.url)} (branch ${options.branch})`;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  private async git(
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; input?: string | Buffer; allowFail?: boolean } = {},
  ): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        ['-c', 'core.quotepath=false', ...args],
        {
          cwd: opts.cwd,
          env: { ...gitEnv(), ...opts.env },
          timeout: this.timeoutMs,
          maxBuffer: MAX_BUFFER,
          encoding: 'utf8',
        },
        (err, stdout, stderr) => {
          if (err) {
            const code = typeof err.code === 'number' ? err.code : -1;
            if (opts.allowFail && code > 0) return resolve({ stdout, code });
            const what = stderr.trim().split('\n').slice(-3).join(' ') || err.message;
            return reject(new UsageSourceError(`git ${args[0]} failed: ${what}`));
          }
          resolve({ stdout, code: 0 });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  }

  /** The git directory to read: the local repository, or the mirror of a remote one (cloned on first use). */
  private async repo(): Promise<string> {
    if (this.gitDir) return this.gitDir;
    const local = await isDirectory(this.options.url);
    if (local) {
      const { stdout } = await this.git(['-C', this.options.url, 'rev-parse', '--absolute-git-dir']);
      this.gitDir = stdout.trim();
      return this.gitDir;
    }
    const dir = path.resolve(
      this.options.cacheDir,
      `${createHash('sha256').update(this.options.url).digest('hex').slice(0, 16)}.git`,
    );
    if (!(await isDirectory(dir))) {
      await mkdir(path.dirname(dir), { recursive: true });
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      await this.git(['clone', '--bare', '--quiet', this.options.url, tmp]);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    }
    this.gitDir = dir;
    this.remote = true;
    return dir;
  }

  private async fetch(dir: string): Promise<void> {
    const branch = this.options.branch;
    const res = await this.git(
      [
        '--git-dir',
        dir,
        'fetch',
        '--quiet',
        '--prune',
        'origin',
        `+refs/heads/${branch}:refs/heads/${branch}`,
      ],
      { allowFail: true },
    );
    // A remote without the branch yet (an empty repository) is not an error.
    if (res.code !== 0) {
      const ls = await this.git(['--git-dir', dir, 'ls-remote', '--heads', 'origin', branch]);
      if (ls.stdout.trim() !== '') throw new UsageSourceError(`git fetch of ${this.description} failed`);
    }
  }

  /**
   * Readiness: a local repository must be there (the path is a directory git reads); a remote
   * one must answer `git ls-remote` (one call, no fetch).
   */
  async check(signal: AbortSignal): Promise<void> {
    const url = this.options.url;
    const local = await isDirectory(url);
    const args = local ? ['-C', url, 'rev-parse', '--absolute-git-dir'] : ['ls-remote', '--heads', url];
    if (!local && (path.isAbsolute(url) || url.startsWith('.'))) {
      throw new UsageSourceError(`the billing repository ${url} does not exist`);
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        'git',
        args,
        { env: gitEnv(), timeout: this.timeoutMs, signal, encoding: 'utf8' },
        (err, _stdout, stderr) => {
          if (!err) return resolve();
          const why = signal.aborted
            ? 'no answer in time'
            : stderr.trim().split('\n').slice(-1)[0] || err.message;
          reject(new UsageSourceError(`the billing repository ${redactUrl(url)} cannot be read: ${why}`));
        },
      );
    });
  }

  async head(): Promise<string | null> {
    const dir = await this.repo();
    if (this.remote) await this.fetch(dir);
    const res = await this.git(
      ['--git-dir', dir, 'rev-parse', '--verify', '--quiet', `refs/heads/${this.options.branch}^{commit}`],
      { allowFail: true },
    );
    return res.code === 0 ? res.stdout.trim() : null;
  }

  async listNodes(commit: string): Promise<NodeListing> {
    const dir = await this.repo();
    const { stdout } = await this.git(['--git-dir', dir, 'ls-tree', '-z', commit, 'nodes/']);
    const nodes: UsageNode[] = [];
    const others: string[] = [];
    for (const entry of stdout.split('\0')) {
      if (!entry) continue;
      const [meta, entryPath] = splitOnce(entry, '\t');
      const [, type, sha] = meta.split(' ');
      if (type === 'tree') nodes.push({ name: entryPath.slice('nodes/'.length), treeSha: sha });
      else others.push(entryPath);
    }
    return { nodes, others };
  }

  async nodeCommit(node: UsageNode, commit: string): Promise<string> {
    const dir = await this.repo();
    const { stdout } = await this.git([
      '--git-dir',
      dir,
      'log',
      '-1',
      '--format=%H',
      commit,
      '--',
      `nodes/${node.name}`,
    ]);
    const sha = stdout.trim();
    if (!sha) throw new UsageSourceError(`no commit touches nodes/${node.name} at ${commit}`);
    return sha;
  }

  async listFiles(node: UsageNode): Promise<UsageFileRef[]> {
    const dir = await this.repo();
    const { stdout } = await this.git(['--git-dir', dir, 'ls-tree', '-r', '-l', '-z', node.treeSha]);
    const files: UsageFileRef[] = [];
    for (const entry of stdout.split('\0')) {
      if (!entry) continue;
      const [meta, entryPath] = splitOnce(entry, '\t');
      const [, type, sha, size] = meta.split(/ +/);
      if (type !== 'blob') continue;
      files.push({ path: `nodes/${node.name}/${entryPath}`, blobSha: sha, size: Number(size) });
    }
    return files;
  }

  async *readFiles(files: UsageFileRef[]): AsyncIterable<UsageFileContent> {
    if (files.length === 0) return;
    const dir = await this.repo();
    const child = spawn('git', ['--git-dir', dir, 'cat-file', '--batch'], {
      env: gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.stdin.on('error', () => {});
    child.stdin.end(files.map((f) => `${f.blobSha}\n`).join(''));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      const reader = new ByteReader(child.stdout);
      for (const file of files) {
        const header = (await reader.readLine()).toString('utf8');
        const [sha, type, size] = header.split(' ');
        if (type !== 'blob' || sha !== file.blobSha) {
          throw new UsageSourceError(`git cat-file: ${file.path} (${file.blobSha}): ${header || stderr}`);
        }
        const content = await reader.read(Number(size) + 1); // the object and its trailing newline
        yield { file, content: content.subarray(0, content.length - 1) };
      }
    } finally {
      if (child.exitCode === null) child.kill();
      await exited;
    }
  }

  async putFile(filePath: string, content: Buffer, message: string): Promise<PushResult> {
    const dir = await this.repo();
    const branch = this.options.branch;
    const author = this.options.author ?? { name: 'hero-admin', email: 'hero-admin@localhost' };
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
    };
    for (let attempt = 1; ; attempt++) {
      const parent = await this.head();
      const scratch = await mkdtemp(path.join(tmpdir(), 'hero-usage-push-'));
      try {
        const env = { ...identity, GIT_INDEX_FILE: path.join(scratch, 'index') };
        let updated = false;
        if (parent) {
          await this.git(['--git-dir', dir, 'read-tree', parent], { env });
          const exists = await this.git(['--git-dir', dir, 'cat-file', '-e', `${parent}:${filePath}`], {
            allowFail: true,
          });
          updated = exists.code === 0;
        }
        const blob = (
          await this.git(['--git-dir', dir, 'hash-object', '-w', '--stdin'], { input: content })
        ).stdout.trim();
        await this.git(
          ['--git-dir', dir, 'update-index', '--add', '--cacheinfo', `100644,${blob},${filePath}`],
          {
            env,
          },
        );
        const tree = (await this.git(['--git-dir', dir, 'write-tree'], { env })).stdout.trim();
        const commit = (
          await this.git(
            ['--git-dir', dir, 'commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message],
            {
              env,
            },
          )
        ).stdout.trim();
        if (this.remote) {
          const pushed = await this.git(
            ['--git-dir', dir, 'push', '--quiet', 'origin', `${commit}:refs/heads/${branch}`],
            { allowFail: true },
          );
          if (pushed.code !== 0) {
            if (attempt < 5) continue; // someone pushed in between: fetch and try again
            throw new UsageSourceError(`git push to ${this.description} was refused`);
          }
          await this.git(['--git-dir', dir, 'update-ref', `refs/heads/${branch}`, commit]);
        } else {
          // Compare-and-swap on the branch: a commit landing in between makes us start over.
          const swapped = await this.git(
            ['--git-dir', dir, 'update-ref', `refs/heads/${branch}`, commit, parent ?? ''.padEnd(40, '0')],
            { allowFail: true },
          );
          if (swapped.code !== 0) {
            if (attempt < 5) continue;
            throw new UsageSourceError(`the branch ${branch} kept moving; the push was not written`);
          }
        }
        return { commitSha: commit, updated };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
  }
}

/** git without the caller's configuration getting in the way (no pager, no prompts). */
function gitEnv(): Record<string, string> {
  const keep: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SSH_AUTH_SOCK', 'GIT_SSH_COMMAND']) {
    // biome-ignore lint/style/noProcessEnv: git needs PATH/HOME; nothing here is configuration.
    const value = process.env[key];
    if (value !== undefined) keep[key] = value;
  }
  return { ...keep, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C' };
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

/**
 * Reads exact byte counts and lines from a stream (git cat-file --batch output), pausing the
 * stream while more than HIGH_WATER bytes wait to be read, so a big batch is not buffered whole.
 */
class ByteReader {
  private static readonly HIGH_WATER = 8 * 1024 * 1024;
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  private paused = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly stream: NodeJS.ReadableStream) {
    stream.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
      if (this.length > ByteReader.HIGH_WATER && !this.paused) {
        this.paused = true;
        stream.pause();
      }
      this.wake?.();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    stream.on('error', (err: Error) => {
      this.error = err;
      this.wake?.();
    });
  }

  private async waitFor(test: () => boolean): Promise<void> {
    while (!test()) {
      if (this.error) throw this.error;
      if (this.ended) throw new UsageSourceError('git cat-file ended early');
      if (this.paused) {
        this.paused = false;
        this.stream.resume();
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }

  /** Removes and returns the first n buffered bytes (n <= length). */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.chunks[0];
      if (head.length <= need) {
        parts.push(head);
        this.chunks.shift();
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        this.chunks[0] = head.subarray(need);
        need = 0;
      }
    }
    this.length -= n;
    if (this.paused && this.length < ByteReader.HIGH_WATER / 2) {
      this.paused = false;
      this.stream.resume();
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  async read(n: number): Promise<Buffer> {
    await this.waitFor(() => this.length >= n);
    return this.take(n);
  }

  /** The next line, without its newline. */
  async readLine(): Promise<Buffer> {
    let at = -1;
    await this.waitFor(() => {
      let offset = 0;
      for (const chunk of this.chunks) {
        const i = chunk.indexOf(10);
        if (i >= 0) {
          at = offset + i;
          return true;
        }
        offset += chunk.length;
      }
      return false;
    });
    const line = this.take(at + 1);
    return line.subarray(0, line.length - 1);
  }
}
