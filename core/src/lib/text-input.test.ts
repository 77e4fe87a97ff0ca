import { describe, expect, it } from 'vitest';
import { MAX_INPUT_DEPTH, MAX_INPUT_STRING_LENGTH, textInputProblems, textProblem } from './text-input.ts';

describe('textProblem', () => {
  it('accepts ordinary text, paired surrogates (emoji) and exactly the limit', () => {
    for (const ok of [
      '',
      'Ada Lovelace',
      'zoë@example.org',
      'rocket 🚀',
      'x'.repeat(MAX_INPUT_STRING_LENGTH),
    ])
      expect(textProblem(ok), ok.slice(0, 20)).toBeNull();
  });

  it('refuses NUL, unpaired surrogates (high or low, anywhere) and one character too many', () => {
    expect(textProblem('a\u0000b')).toMatch(/NUL/);
    for (const lone of ['\ud800', 'a\ud83d', '\ude80b', '\ude80\ud83d'])
      expect(textProblem(lone), JSON.stringify(lone)).toMatch(/unpaired UTF-16 surrogate/);
    expect(textProblem('x'.repeat(MAX_INPUT_STRING_LENGTH + 1))).toBe(
      `is ${MAX_INPUT_STRING_LENGTH + 1} characters long, more than the limit of ${MAX_INPUT_STRING_LENGTH}`,
    );
    expect(textProblem('x'.repeat(20), 10)).toMatch(/limit of 10$/);
  });
});

describe('textInputProblems', () => {
  it('walks arguments, input objects, lists and JSON values, naming each path', () => {
    const args = {
      input: {
        email: 'a\u0000@x.org',
        tags: ['ok', '\ud800'],
        nested: { deep: [{ s: 'fine' }, { s: '\u0000' }] },
      },
      first: 10,
      at: new Date(),
      none: null,
    };
    expect(textInputProblems(args).map((p) => p.path)).toEqual([
      'input.email',
      'input.tags[1]',
      'input.nested.deep[1].s',
    ]);
    expect(textInputProblems({ input: { email: 'a@x.org', n: 1, b: true } })).toEqual([]);
  });

  it('checks object keys without echoing them in the path', () => {
    expect(textInputProblems({ m: { 'bad\u0000key': 1 } })).toEqual([
      { path: 'm', message: expect.stringMatching(/^a field name contains a NUL/) },
    ]);
  });

  it('allows a longer string where maxLengthAt says so, and only there', () => {
    const big = 'x'.repeat(50_000);
    const at = (path: string) => (path === 'input.manifest' ? 100_000 : MAX_INPUT_STRING_LENGTH);
    expect(textInputProblems({ input: { manifest: big } }, '', at)).toEqual([]);
    expect(textInputProblems({ input: { manifest: [big] } }, '', at).map((p) => p.path)).toEqual([
      'input.manifest[0]',
    ]);
  });

  it('refuses deep nesting without exhausting the stack, and lists at most 20 problems', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(textInputProblems({ m: deep })).toEqual([
      {
        path: `m${'[0]'.repeat(MAX_INPUT_DEPTH - 1)}`,
        message: `is nested more than ${MAX_INPUT_DEPTH} levels deep`,
      },
    ]);
    expect(textInputProblems({ list: Array.from({ length: 1000 }, () => '\u0000') })).toHaveLength(20);
  });
});
