/**
 * The repository is self-contained: a clone with nothing beside it installs, starts and passes
 * its tests. Nothing in it may read the design folder that sits beside the checkout where the
 * project is developed, nor any other path above the repository root.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Tracked files and new ones not ignored: what a commit would hold. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter((file) => {
    try {
      return statSync(path.join(ROOT, file)).isFile();
    } catch {
      return false; // deleted in the work tree
    }
  });
}

const TEXT =
  /\.(ts|mts|cts|js|mjs|cjs|svelte|json|md|ya?ml|toml|otoml|sh|html|css)$|(^|\/)(Dockerfile|run|\.[a-z]+rc)$/;
/** Copies of outside material, read as data, and this file (its own examples below). */
const SKIPPED = new Set([
  'package-lock.json',
  'test/fixtures/forgejo-swagger-v12.json',
  'test/self-contained.test.ts',
]);

/** A path relative to a file, as code writes it: `'../x'`, `"../../y/z"`. */
const RELATIVE_LITERAL = /(['"`])(\.\.(?:\/[^'"`\s$]*)?)\1/g;
/** A Markdown link target that is a relative path. */
const MARKDOWN_LINK = /\]\((\.\.\/[^)\s#]*)/g;
/** The design folder beside the checkout, or an absolute path into the development machine. */
const OUTSIDE_NAMES = /(?:^|[\s'"`(=:])(?:\.\.\/)+shared\b|\/work\/(?:shared|main)\b/;

function escapesRoot(file: string, target: string): boolean {
  const resolved = path.resolve(path.dirname(path.join(ROOT, file)), target);
  return resolved !== ROOT && !resolved.startsWith(`${ROOT}${path.sep}`);
}

/** Every place in `text` (of `file`) that names a path outside the repository. */
function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    const at = `${file}:${index + 1}`;
    if (OUTSIDE_NAMES.test(line)) found.push(`${at}: ${line.trim()}`);
    const pattern = file.endsWith('.md') ? MARKDOWN_LINK : RELATIVE_LITERAL;
    for (const match of line.matchAll(pattern)) {
      const target = file.endsWith('.md') ? match[1] : match[2];
      if (escapesRoot(file, target)) found.push(`${at}: ${target}`);
    }
  });
  return found;
}

describe('the repository is self-contained', () => {
  // Joined into the paths below, so that this file's text holds no such path itself.
  const DESIGN = 'shared';
  it('finds a reference to the design folder or above the root when there is one', () => {
    expect(
      outsideReferences(
        'api/src/x.test.ts',
        `const d = path.resolve(import.meta.dirname, '../../../../${DESIGN}/examples');`,
      ),
    ).toHaveLength(2);
    expect(
      outsideReferences('test/x.test.ts', "readFileSync(path.join(import.meta.dirname, '../../etc/passwd'))"),
    ).toEqual(['test/x.test.ts:1: ../../etc/passwd']);
    expect(outsideReferences('docs/a.md', `see [the contract](../../${DESIGN}/forge-api.md)`)).toHaveLength(
      2,
    );
    expect(
      outsideReferences('test/support/forge/README.md', `(\`/work/${DESIGN}/forge-api.md\`)`),
    ).toHaveLength(1);
    // Inside the repository: fine.
    expect(
      outsideReferences(
        'core/src/pool/manifest.test.ts',
        "path.resolve(import.meta.dirname, '../../../examples/pool.json')",
      ),
    ).toEqual([]);
    expect(outsideReferences('docs/a.md', 'see [the fixture](../test/fixtures/f.json)')).toEqual([]);
  });

  it('no file under the repository reads the design folder or a path above the repository root', () => {
    const files = repositoryFiles().filter((f) => TEXT.test(f) && !SKIPPED.has(f));
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) =>
      outsideReferences(file, readFileSync(path.join(ROOT, file), 'utf8')),
    );
    expect(found).toEqual([]);
  });
});
