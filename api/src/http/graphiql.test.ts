import { describe, expect, it } from 'vitest';
import { renderLocalGraphiQL } from './graphiql.ts';

describe('renderLocalGraphiQL', () => {
  it('answers a page that loads nothing from another host', async () => {
    const page = await renderLocalGraphiQL({ title: 'hero-onboarding GraphiQL' });
    expect(page).toContain('<title>hero-onboarding GraphiQL</title>');
    expect(page).toContain('YogaGraphiQL.renderYogaGraphiQL(');
    expect(page).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(page).not.toMatch(/<link[^>]*\shref="(https?:)?\/\//i);
  });

  it('builds the page once per set of options', async () => {
    const first = renderLocalGraphiQL({ title: 'hero-onboarding GraphiQL' });
    expect(renderLocalGraphiQL({ title: 'hero-onboarding GraphiQL' })).toBe(first);
    const other = await renderLocalGraphiQL({ title: 'another title' });
    expect(other).toContain('<title>another title</title>');
    expect(await renderLocalGraphiQL({ title: 'another title' })).toBe(other);
  });
});
