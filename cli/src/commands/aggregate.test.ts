import { describe, expect, it } from 'vitest';
import { runWith } from '../testing.ts';

describe('aggregate', () => {
  const summary = {
    nodesSeen: 2,
    nodesSkipped: 0,
    nodesFailed: 0,
    filesRead: 1,
    recordsSeen: 3,
    recordsApplied: 2,
    recordsDuplicate: 0,
    recordsRejected: 1,
    centsDebited: 30,
    ignoredFiles: 3,
    ignoredFileList: [
      { path: 'nodes/node x/', reason: 'not a node directory name' },
      { path: 'nodes/n-1/usage_2026-11-23-1.otoml', reason: 'not named usage_<YYYY-MM-DD-HH>.otoml' },
    ],
    errors: [],
  };

  it('prints the ignored files with their reason after the counters, and how many are not listed', async () => {
    const res = await runWith(['aggregate', '--once'], { aggregateNow: summary });
    expect(res.error).toBeUndefined();
    expect(res.sent[0].query).toMatch(/ignoredFiles\s+ignoredFileList \{\s+path\s+reason\s+\}/);
    expect(res.out).toMatch(/^centsDebited\s+30\nignoredFiles\s+3\nerrors\s+0\n/m);
    expect(res.out).toMatch(
      /\n {2}ignored nodes\/node x\/: not a node directory name\n {2}ignored nodes\/n-1\/usage_2026-11-23-1\.otoml: not named usage_<YYYY-MM-DD-HH>\.otoml\n {2}\(1 more ignored file not listed\)\n$/,
    );
    const json = await runWith(['aggregate', '--once', '--json'], { aggregateNow: summary });
    expect(JSON.parse(json.out)).toEqual(summary);
  });
});
