import { describe, expect, it } from 'vitest';
import { problemsByField, rateLimitMessage, sentence } from './auth-form.ts';

describe('auth form helpers', () => {
  it('says how many minutes a rate limit lasts, rounded up', () => {
    expect(rateLimitMessage(900)).toBe('Too many attempts. Try again in 15 minutes.');
    expect(rateLimitMessage(61)).toBe('Too many attempts. Try again in 2 minutes.');
    expect(rateLimitMessage(5)).toBe('Too many attempts. Try again in 1 minute.');
  });

  it('puts each problem next to its field', () => {
    const sorted = problemsByField(
      [
        { path: 'email', message: 'must be a valid email address' },
        { path: 'input.password', message: 'must be at least 12 characters' },
        { path: 'password', message: 'must not be your email address' },
        { path: 'other', message: 'odd' },
      ],
      ['email', 'displayName', 'password'] as const,
    );
    expect(sorted.fields).toEqual({
      email: ['Must be a valid email address.'],
      password: ['Must be at least 12 characters.', 'Must not be your email address.'],
    });
    expect(sorted.other).toEqual(['other: odd']);
  });

  it('makes a sentence of a message', () => {
    expect(sentence('must not be empty')).toBe('Must not be empty.');
    expect(sentence('Done!')).toBe('Done!');
  });
});
