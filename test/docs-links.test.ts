/**
 * Every relative link in the repository's Markdown (README.md, docs/*.md and the other READMEs)
 * names a file that exists and, when it has a #fragment, a heading or `<a id>` anchor that
 * exists in that file, with the anchors GitHub gives headings. Moving a section between
 * documents cannot leave a dead link behind.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Tracked Markdown files and new ones not ignored, outside copies of outside material. */
function markdownFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '*.md'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter(
    (file) => !file.startsWith('test/fixtures/') && existsSync(path.join(ROOT, file)),
  );
}

/** The text without fenced code blocks (their lines left empty, so line numbers stay). */
function withoutFences(text: string): string {
  let fence: string | null = null;
  return text
    .split('\n')
    .map((line) => {
      const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === null && marker) {
        fence = marker[0];
        return '';
      }
      if (fence !== null) {
        if (marker?.[0] === fence) fence = null;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** Code spans hold examples, not links: their text goes, their place stays. */
function withoutCodeSpans(text: string): string {
  return text.replace(/``[\s\S]*?``|`[^`\n]*`/g, 'code');
}

/** GitHub's anchor for a heading: inline markup dropped, lowercased, punctuation removed. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a document defines: its headings (repeats numbered as GitHub does) and `<a id>`s. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text).split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]);
  return anchors;
}

/** The targets of the inline links `[text](target)` outside code, with their line numbers. */
function linksOf(text: string): { target: string; line: number }[] {
  const prose = withoutCodeSpans(withoutFences(text));
  const links: { target: string; line: number }[] = [];
  for (const match of prose.matchAll(/\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const line = prose.slice(0, match.index).split('\n').length;
    links.push({ target: match[1], line });
  }
  return links;
}

const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/** What is wrong with each relative link of `file`, one line each. */
function brokenLinks(file: string, text: string, read: (file: string) => string | null): string[] {
  const problems: string[] = [];
  for (const { target, line } of linksOf(text)) {
    if (EXTERNAL.test(target)) continue;
    const at = `${file}:${line}: ${target}`;
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash >= 0 ? target.slice(0, hash) : target);
    const fragment = hash >= 0 ? decodeURIComponent(target.slice(hash + 1)) : '';
    const resolved =
      pathPart === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart));
    if (resolved.startsWith('../') || path.posix.isAbsolute(resolved)) {
      problems.push(`${at}: leaves the repository`);
      continue;
    }
    const content = read(resolved.replace(/\/$/, ''));
    if (content === null) {
      problems.push(`${at}: no such file`);
      continue;
    }
    if (fragment === '') continue;
    if (!resolved.endsWith('.md')) {
      problems.push(`${at}: a fragment into a file that is not Markdown`);
      continue;
    }
    if (!anchorsOf(content).has(fragment)) problems.push(`${at}: no heading or anchor #${fragment}`);
  }
  return problems;
}

/** A file's text ('' for a directory), or null when there is nothing at that path. */
function readRepositoryFile(file: string): string | null {
  const full = path.join(ROOT, file);
  if (!existsSync(full)) return null;
  return statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8');
}

describe('Markdown links', () => {
  it('computes the anchors GitHub gives headings, and finds the links outside code', () => {
    expect(slug('Money: ledger, payments, plans')).toBe('money-ledger-payments-plans');
    expect(slug('billing repository (`api/src/usage/sources/source-config.ts`)')).toBe(
      'billing-repository-apisrcusagesourcessource-configts',
    );
    expect(slug('start (`npm start`)')).toBe('start-npm-start');
    expect([
      ...anchorsOf('# A\n## Steps\n```sh\n# not a heading\n```\n## Steps\n<a id="plans"></a>'),
    ]).toEqual(['a', 'steps', 'steps-1', 'plans']);
    expect(
      linksOf(
        'see [one](a.md#x) and `[not](b.md)`\n```\n[nor](c.md)\n```\n[two\nlines](d.md) <https://e.org>',
      ),
    ).toEqual([
      { target: 'a.md#x', line: 1 },
      { target: 'd.md', line: 5 },
    ]);
  });

  it('reports a missing file, a missing heading and a link leaving the repository', () => {
    const files: Record<string, string> = { 'docs/a.md': '# A\n## Here\n', 'README.md': '' };
    const read = (file: string) => files[file] ?? null;
    expect(
      brokenLinks(
        'README.md',
        '[ok](docs/a.md#here) [gone](docs/b.md) [no heading](docs/a.md#there) [out](../x.md) [web](https://x.org/#y)',
        read,
      ),
    ).toEqual([
      'README.md:1: docs/b.md: no such file',
      'README.md:1: docs/a.md#there: no heading or anchor #there',
      'README.md:1: ../x.md: leaves the repository',
    ]);
    expect(brokenLinks('docs/a.md', '[self](#here) [up](../README.md)', read)).toEqual([]);
  });

  it('every relative link in README.md and docs/ resolves to a file and, with a fragment, to an anchor in it', () => {
    const files = markdownFiles();
    expect(files).toContain('README.md');
    expect(files).toContain('docs/configuration.md');
    const texts = files.map((file) => [file, readFileSync(path.join(ROOT, file), 'utf8')] as const);
    // The README alone links to every document: far fewer links means the parser lost them.
    expect(texts.flatMap(([, text]) => linksOf(text)).length).toBeGreaterThan(50);
    const problems = texts.flatMap(([file, text]) => brokenLinks(file, text, readRepositoryFile));
    expect(problems).toEqual([]);
  });
});
