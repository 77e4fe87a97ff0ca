/**
 * Workspaces depend on each other by package name only: a module of one workspace imports
 * another's through that package's `exports` (`@hero/core/billing/ledger`), never by a relative
 * path into its folder, so each dependency is declared and each public module listed.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

const rootPackage = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  workspaces: string[];
};
const WORKSPACES = rootPackage.workspaces;

/** The workspace a repository path belongs to: its folder, or `.` for the root package. */
function workspaceOf(file: string): string {
  const top = file.split('/')[0];
  return WORKSPACES.includes(top) ? top : '.';
}

/** This file: its examples above are crossings on purpose. */
const SELF = 'test/workspace-boundaries.test.ts';

/** Tracked files and new ones not ignored, but this one. */
function sourceFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...new Set(out.split('\0'))].filter((file) => {
    if (file === SELF || !/\.(ts|mts|cts|js|mjs|cjs|svelte)$/.test(file)) return false;
    try {
      return statSync(path.join(ROOT, file)).isFile();
    } catch {
      return false; // deleted in the work tree
    }
  });
}

/** Module specifiers: `from '…'`, `import '…'`, `import('…')`, `vi.mock('…')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\bvi\.mock\(\s*)(['"])([^'"\n]+)\1/g;

/** Every relative import in `text` (the source of `file`) that leaves the file's workspace. */
function crossings(file: string, text: string): string[] {
  const found: string[] = [];
  const own = workspaceOf(file);
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(SPECIFIER)) {
      const specifier = match[2];
      if (!specifier.startsWith('.')) continue;
      const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), specifier));
      if (target.startsWith('..')) continue; // outside the repository: another test's concern
      if (workspaceOf(target) !== own) found.push(`${file}:${index + 1}: ${specifier}`);
    }
  });
  return found;
}

/** `@hero/<name>/<subpath>` specifiers whose package does not export that subpath. */
function unexported(file: string, text: string, exportsOf: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(SPECIFIER)) {
      const m = /^(@hero\/[^/]+)(\/.*)?$/.exec(match[2]);
      if (!m) continue;
      const exported = exportsOf.get(m[1]);
      const subpath = `.${m[2] ?? ''}`;
      if (!exported?.has(subpath)) found.push(`${file}:${index + 1}: ${match[2]}`);
    }
  });
  return found;
}

function workspaceExports(): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const workspace of WORKSPACES) {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, workspace, 'package.json'), 'utf8')) as {
      name: string;
      exports?: Record<string, string>;
    };
    map.set(pkg.name, new Set(Object.keys(pkg.exports ?? {})));
  }
  return map;
}

describe('workspace boundaries', () => {
  it('finds a relative import that crosses into another workspace, and lets the others be', () => {
    expect(crossings('workers/x.ts', "import { a } from '../core/src/db/orm.ts';")).toEqual([
      'workers/x.ts:1: ../core/src/db/orm.ts',
    ]);
    expect(crossings('test/x.test.ts', "const m = await import('../api/src/main.ts');")).toHaveLength(1);
    expect(crossings('core/src/billing/x.ts', "import { b } from '../db/orm.ts';")).toEqual([]);
    expect(crossings('test/x.test.ts', "import { c } from './support/db.ts';")).toEqual([]);
    expect(crossings('scripts/x.ts', "import { d } from '../test/support/db.ts';")).toEqual([]);
    const exportsOf = new Map([['@hero/core', new Set(['./db/orm'])]]);
    expect(unexported('a.ts', "import { e } from '@hero/core/db/orm';", exportsOf)).toEqual([]);
    expect(unexported('a.ts', "import { f } from '@hero/core/db/migrate';", exportsOf)).toEqual([
      'a.ts:1: @hero/core/db/migrate',
    ]);
  });

  it('no relative import crosses a workspace boundary', () => {
    const found = sourceFiles().flatMap((file) =>
      crossings(file, readFileSync(path.join(ROOT, file), 'utf8')),
    );
    expect(found).toEqual([]);
  });

  it('every @hero/* import names a module its package exports', () => {
    const exportsOf = workspaceExports();
    const found = sourceFiles().flatMap((file) =>
      unexported(file, readFileSync(path.join(ROOT, file), 'utf8'), exportsOf),
    );
    expect(found).toEqual([]);
  });
});
