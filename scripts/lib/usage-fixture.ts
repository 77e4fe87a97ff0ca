import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { formatUsageBatch, type UsageRecordInput } from '@hero/core/usage/usage-format';

const run = promisify(execFile);

/** A file to commit: repository path and content. */
export type RepoFile = [path: string, content: string | Buffer];

/**
 * Commits files onto `branch` of a (bare) repository in one `git fast-import` stream: fast
 * enough for a million records. Each group becomes one commit, on top of the branch's head.
 */
export async function commitWithFastImport(
  gitDir: string,
  commits: { message: string; files: RepoFile[] }[],
  branch = 'main',
): Promise<string> {
  const head = await run('git', [
    '--git-dir',
    gitDir,
    'rev-parse',
    '--verify',
    '--quiet',
    `refs/heads/${branch}`,
  ]).then(
    (r) => r.stdout.trim(),
    () => null,
  );
  const child = spawn('git', ['--git-dir', gitDir, 'fast-import', '--quiet', '--force'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const write = (chunk: string | Buffer) =>
    new Promise<void>((resolve, reject) =>
      child.stdin.write(chunk, (err) => (err ? reject(err) : resolve())),
    );
  const now = Math.floor(Date.now() / 1000);
  let first = true;
  for (const commit of commits) {
    const message = Buffer.from(commit.message);
    await write(
      `commit refs/heads/${branch}\ncommitter usage-fixture <usage-fixture@localhost> ${now} +0000\n`,
    );
    await write(`data ${message.length}\n`);
    await write(message);
    await write('\n');
    if (first && head) await write(`from ${head}\n`);
    first = false;
    for (const [path, content] of commit.files) {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      await write(`M 100644 inline ${path}\ndata ${bytes.length}\n`);
      await write(bytes);
      await write('\n');
    }
    await write('\n');
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${stderr.trim()}`);
  return (await run('git', ['--git-dir', gitDir, 'rev-parse', `refs/heads/${branch}`])).stdout.trim();
}

export interface GeneratedUsage {
  files: RepoFile[];
  /** Per user id: the sum of the costs of their records. */
  expected: Map<string, number>;
  records: number;
}

/**
 * `nodes` × `filesPerNode` batch files of `recordsPerFile` records each, spread over `userIds`
 * round-robin, with deterministic keys (`<node>/<hour>/<i>`) and costs 1..50 cents.
 */
export function generateUsage(opts: {
  nodes: number;
  filesPerNode: number;
  recordsPerFile: number;
  userIds: string[];
  nodePrefix?: string;
}): GeneratedUsage {
  const files: RepoFile[] = [];
  const expected = new Map<string, number>();
  let n = 0;
  const start = Date.UTC(2026, 10, 1, 0);
  for (let node = 0; node < opts.nodes; node++) {
    const nodeName = `${opts.nodePrefix ?? 'node'}-${String(node + 1).padStart(2, '0')}`;
    for (let f = 0; f < opts.filesPerNode; f++) {
      const periodStart = new Date(start + f * 3_600_000);
      const periodEnd = new Date(periodStart.getTime() + 3_600_000);
      const hour = periodStart.toISOString().slice(0, 13).replace('T', '-');
      const records: UsageRecordInput[] = [];
      for (let i = 0; i < opts.recordsPerFile; i++) {
        const userId = opts.userIds[n % opts.userIds.length];
        const costCents = (n % 50) + 1;
        n++;
        expected.set(userId, (expected.get(userId) ?? 0) + costCents);
        records.push({
          idempotencyKey: `${nodeName}/${hour}/${i}`,
          userId,
          nodeName,
          resource: i % 2 ? 'egress_bytes' : 'cpu_core_seconds',
          quantity: i % 2 ? 1_048_576 * ((i % 7) + 1) : 3600,
          costCents,
          periodStart,
          periodEnd,
        });
      }
      files.push([
        `nodes/${nodeName}/usage_${hour}.otoml`,
        formatUsageBatch({ node: nodeName, period: hour, records }),
      ]);
    }
  }
  return { files, expected, records: n };
}
