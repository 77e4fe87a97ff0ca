import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { parseManifest } from './manifest.ts';

function problemsOf(input: unknown) {
  try {
    parseManifest(input);
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected the manifest to be refused');
}

const ROOT = path.resolve(import.meta.dirname, '../../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('parseManifest', () => {
  it('accepts the example manifest the repository ships', () => {
    const entries = parseManifest(read('examples/pool.json'));
    expect(entries.map((e) => e.id)).toEqual(['vm-eu-001', 'vm-eu-002', 'vm-eu-003', 'vm-us-001']);
    expect(entries[2]).toEqual({
      id: 'vm-eu-003',
      name: 'eu-west node 9 / vm 1',
      host: '10.20.9.11',
      region: 'eu-west',
      status: 'MAINTENANCE',
      cockpitUrl: null,
    });
  });

  it("reads the original system's shape (snake_case fields, statuses in any case) as its camelCase twin", () => {
    const seedShaped = parseManifest(read('test/fixtures/pool-seed-shape.json'));
    expect(seedShaped).toEqual(parseManifest(read('examples/pool.json')));
    expect(parseManifest([{ id: 'v', cockpit_url: 'https://c.test/v', status: ' maintenance ' }])).toEqual([
      { id: 'v', name: 'v', host: null, region: null, status: 'MAINTENANCE', cockpitUrl: 'https://c.test/v' },
    ]);
  });

  it('names the spelling the manifest used in its problems; both spellings of a field are refused', () => {
    expect(
      problemsOf([
        { id: 'a', cockpit_url: 'javascript:alert(1)', status: 'Gone' },
        { id: 'b', cockpit_url: 'https://c.test/b', cockpitUrl: 'https://c.test/b' },
        { id: 'c', cockpit_link: 'https://c.test/c' },
      ]),
    ).toEqual([
      { path: '[0].status', message: 'must be one of AVAILABLE, MAINTENANCE, RETIRED (any case)' },
      { path: '[0].cockpit_url', message: 'must be an http:// or https:// URL' },
      { path: '[1].cockpitUrl', message: 'cockpit_url and cockpitUrl are the same field; give one of them' },
      { path: '[2].cockpit_link', message: 'unknown field' },
    ]);
  });

  it('accepts a bare array and defaults name and status', () => {
    expect(parseManifest([{ id: 'x', ip: '10.0.0.1' }])).toEqual([
      { id: 'x', name: 'x', host: '10.0.0.1', region: null, status: 'AVAILABLE', cockpitUrl: null },
    ]);
  });

  it('lists every problem at once', () => {
    expect(
      problemsOf({
        pool: [
          { id: 'a' },
          { id: 'a' },
          { id: 'b', cockpitUrl: 'javascript:alert(1)' },
          { id: 'c', status: 'GONE', extra: 1 },
          42,
        ],
      }),
    ).toEqual([
      { path: 'pool[1].id', message: 'duplicate id "a" (first at pool[0])' },
      { path: 'pool[2].cockpitUrl', message: 'must be an http:// or https:// URL' },
      { path: 'pool[3].status', message: 'must be one of AVAILABLE, MAINTENANCE, RETIRED (any case)' },
      { path: 'pool[3].extra', message: 'unknown field' },
      { path: 'pool[4]', message: expect.stringMatching(/must be an object/) },
    ]);
  });

  it('refuses what is not a manifest', () => {
    expect(problemsOf('{nope')[0].message).toMatch(/not valid JSON/);
    expect(problemsOf({ pool: {} })).toEqual([{ path: 'pool', message: 'expected an array of pool VMs' }]);
    expect(problemsOf({ vms: [] })[0].message).toMatch(/unknown field\(s\): vms/);
    expect(problemsOf([{}])).toEqual([{ path: '[0].id', message: expect.any(String) }]);
  });

  it('accepts ftp-free http and https cockpit URLs only', () => {
    expect(parseManifest([{ id: 'h', cockpitUrl: 'http://c.test/h' }])[0].cockpitUrl).toBe('http://c.test/h');
    expect(problemsOf([{ id: 'f', cockpitUrl: 'ftp://c.test/f' }])[0].path).toBe('[0].cockpitUrl');
    expect(problemsOf([{ id: 'd', cockpitUrl: 'data:text/html,hi' }])[0].path).toBe('[0].cockpitUrl');
  });

  it('refuses JSON text whose strings PostgreSQL cannot store (escapes the API input check did not see)', () => {
    // As JSON text, `\u0000` and `\ud800` are six plain characters each; parsing makes them NUL and a lone surrogate.
    const text = '{ "pool": [{ "id": "vm-\\u0000" }, { "id": "ok", "region": "\\ud800" }] }';
    expect(text).not.toContain('\u0000');
    expect(problemsOf(text)).toEqual([
      { path: 'pool[0].id', message: expect.stringMatching(/NUL/) },
      { path: 'pool[1].region', message: expect.stringMatching(/unpaired UTF-16 surrogate/) },
    ]);
    expect(problemsOf([{ id: 'x'.repeat(10_001) }])).toEqual([
      { path: '[0].id', message: 'is 10001 characters long, more than the limit of 10000' },
    ]);
  });
});
