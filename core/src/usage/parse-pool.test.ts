import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ParsePool } from './parse-pool.ts';
import { parseUsageFile, UsageFileError } from './usage-format.ts';

const EXAMPLE = readFileSync(
  path.resolve(import.meta.dirname, '../../../examples/usage_2026-11-23-11.otoml'),
);
const file = { node: 'node-7', path: 'nodes/node-7/usage_2026-11-23-11.otoml' };

describe('parse pool', () => {
  let pool: ParsePool;
  afterEach(async () => {
    await pool?.close();
  });

  it('parses on a worker thread exactly as on the main thread, in order', async () => {
    pool = new ParsePool();
    const results = await Promise.all([pool.parse(EXAMPLE, file), pool.parse(EXAMPLE, file)]);
    expect(pool.threaded).toBe(true);
    const direct = parseUsageFile(EXAMPLE.toString('utf8'), file);
    for (const r of results) expect(r).toEqual(direct);
    expect(results[0].records[0].periodStart).toBeInstanceOf(Date);
  });

  it('turns a file the worker cannot read into a UsageFileError naming the file', async () => {
    pool = new ParsePool();
    const failure = pool.parse(Buffer.from('[[records]\n'), file);
    await expect(failure).rejects.toBeInstanceOf(UsageFileError);
    await expect(failure).rejects.toThrow(/^nodes\/node-7\/usage_2026-11-23-11\.otoml: not valid TOML/);
    // The worker goes on with the next file.
    expect((await pool.parse(EXAMPLE, file)).records).toHaveLength(3);
  });
});
