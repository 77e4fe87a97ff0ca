import { describe, expect, it } from 'vitest';
import { currentRequestId, requestIdFrom, withRequestId } from './request-id.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it.each(['abc', 'req-42', 'web:1f2e.3_x', 'a'.repeat(128), '8d9f1c2e-0b1a-4c3d-9e8f-7a6b5c4d3e2f'])(
    'keeps the safe id %j',
    (id) => expect(requestIdFrom(id)).toBe(id),
  );

  it.each([
    ['too long', 'a'.repeat(129)],
    ['a newline', 'abc\ndef'],
    ['a space', 'abc def'],
    ['a quote', 'a"b'],
    ['non-ASCII', 'réq'],
    ['empty', ''],
  ])('replaces an id with %s by a new UUID', (_, id) => {
    expect(requestIdFrom(id)).toMatch(UUID);
  });

  it('makes a new one when none came, a different one each time', () => {
    const a = requestIdFrom(undefined);
    expect(a).toMatch(UUID);
    expect(requestIdFrom(null)).not.toBe(a);
  });

  it('takes the first of repeated headers', () => {
    expect(requestIdFrom(['one', 'two'])).toBe('one');
  });
});

describe('withRequestId', () => {
  it('makes the id current for everything the function awaits', async () => {
    expect(currentRequestId()).toBeUndefined();
    const seen = await withRequestId('req-1', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return currentRequestId();
    });
    expect(seen).toBe('req-1');
    expect(currentRequestId()).toBeUndefined();
  });
});
