import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseSimpleUsageToml } from './fast-toml.ts';
import { formatUsageBatch, MAX_COST_CENTS, parseUsageFile } from './usage-format.ts';

/** smol-toml's answer as plain data (its objects have a null prototype), or 'error'. */
function reference(text: string): unknown {
  try {
    return normalize(parse(text));
  } catch {
    return 'error';
  }
}

function normalize(v: unknown): unknown {
  if (v instanceof Date) return { date: v.getTime(), valid: !Number.isNaN(v.getTime()) };
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

/** The fast path either declines (null) or agrees with smol-toml exactly. */
function expectAgrees(text: string): 'fast' | 'declined' {
  const fast = parseSimpleUsageToml(text);
  if (fast === null) return 'declined';
  expect(normalize(fast), text).toEqual(reference(text));
  return 'fast';
}

const EXAMPLE = readFileSync(
  path.resolve(import.meta.dirname, '../../../examples/usage_2026-11-23-11.otoml'),
  'utf8',
);

describe('fast TOML path for usage batches', () => {
  it('reads the shipped example and formatUsageBatch output exactly as smol-toml does', () => {
    expect(expectAgrees(EXAMPLE)).toBe('fast');
    const text = formatUsageBatch({
      node: 'n-1',
      period: '2026-11-23-10',
      records: [
        {
          idempotencyKey: 'k "quoted" \\ tab\there\n€ 𝄞',
          userId: '0e6c1f0a-2d1b-4c55-9a51-6f3f0a9b7c11',
          allocationId: null,
          nodeName: 'n-1',
          resource: 'cpu',
          quantity: 1.5e-7,
          costCents: 9_007_199_254_740_991,
          periodStart: new Date('2026-11-23T10:00:00.250Z'),
          periodEnd: new Date('2026-11-23T11:00:00Z'),
        },
      ],
    });
    expect(expectAgrees(text)).toBe('fast');
  });

  it('declines what it does not handle, so smol-toml parses it (or words the error)', () => {
    const declined = [
      "a = 'literal'",
      'a = [1, 2]',
      'a = { b = 1 }',
      'a = true',
      'a = 2026-11-23T10:00:00',
      'a = 2026-11-23',
      'a = 1_000',
      'a = 0x10',
      'a = 012',
      'a = 9007199254740993',
      'a = "bad \\q escape"',
      'a = "unterminated',
      '"quoted key" = 1',
      'a.b = 1',
      'a = 1\na = 2',
      '[table]\na = 1',
      'records = 1\n[[records]]\na = 1',
      'a = 2026-13-40T10:00:00Z',
      'a = "x" trailing',
      'a = """multi"""',
      'a = 1\r',
      'a = inf',
    ];
    for (const text of declined) expect(parseSimpleUsageToml(text), text).toBeNull();
  });

  it('agrees with smol-toml on thousands of random mutations of a batch (or declines)', () => {
    const alphabet = [
      '"',
      '\\',
      '#',
      '=',
      '[',
      ']',
      '\n',
      ' ',
      '\t',
      'Z',
      '+',
      '-',
      '.',
      '0',
      '9',
      'u',
      'é',
      '\r',
      '\u0001',
    ];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let fast = 0;
    for (let n = 0; n < 3000; n++) {
      const chars = [...EXAMPLE];
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * chars.length);
        const op = random();
        const c = alphabet[Math.floor(random() * alphabet.length)];
        if (op < 0.4) chars[at] = c;
        else if (op < 0.7) chars.splice(at, 0, c);
        else chars.splice(at, 1);
      }
      const text = chars.join('');
      const result = parseSimpleUsageToml(text);
      if (result === null) continue;
      fast++;
      expect(normalize(result), JSON.stringify(text)).toEqual(reference(text));
    }
    // Many mutations stay inside the simple layout (a changed digit or letter): the fast path takes them.
    expect(fast).toBeGreaterThan(500);
  });

  it('the whole file reads the same with and without the fast paths, on thousands of mutations', () => {
    // Tokens that hit the record rules: spaces around a key, NUL and surrogate escapes, numbers
    // beyond the bounds and beyond 2^53, a local time.
    const tokens = [
      ' ',
      '\t',
      '\\u0000',
      '\\uD800',
      '\\u00A0',
      '9007199254740993',
      '100000000001',
      '-1',
      '1e400',
      '.5',
      'Z',
      '"',
      '\n',
      '#',
    ];
    let seed = 4242;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const outcome = (text: string, fastPaths: boolean) => {
      try {
        return parseUsageFile(
          text,
          { node: 'node-7', path: 'nodes/node-7/usage_2026-11-23-11.otoml' },
          { fastPaths },
        );
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    let withRecords = 0;
    for (let n = 0; n < 2000; n++) {
      let text = EXAMPLE;
      const edits = 1 + Math.floor(random() * 2);
      for (let e = 0; e < edits; e++) {
        // Half the edits go at the edge of a string (where a key gains surrounding spaces).
        const quotes = [...text.matchAll(/"/g)].map((m) => m.index);
        const at =
          random() < 0.5 && quotes.length > 0
            ? quotes[Math.floor(random() * quotes.length)] + (random() < 0.5 ? 1 : 0)
            : Math.floor(random() * text.length);
        const token = tokens[Math.floor(random() * tokens.length)];
        text =
          random() < 0.6
            ? text.slice(0, at) + token + text.slice(at)
            : text.slice(0, at) + token + text.slice(at + 1);
      }
      const fast = outcome(text, true);
      expect(normalize(fast), JSON.stringify(text)).toEqual(normalize(outcome(text, false)));
      if (!('records' in fast)) continue;
      if (fast.records.length > 0) withRecords++;
      // What is applied keeps the documented rules, whichever path read it.
      for (const r of fast.records) {
        // A plain key is applied exactly as written (never trimmed).
        if (/^[ -!#-[\]-~]*$/.test(r.idempotencyKey))
          expect(text, r.idempotencyKey).toContain(`"${r.idempotencyKey}"`);
        expect(r.idempotencyKey.trim()).toBe(r.idempotencyKey);
        expect(r.idempotencyKey + r.resource + r.nodeName).not.toContain('\u0000');
        expect(r.costCents).toBeLessThanOrEqual(MAX_COST_CENTS);
      }
    }
    expect(withRecords).toBeGreaterThan(500);
  });
});
