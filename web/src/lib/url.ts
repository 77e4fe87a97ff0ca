/**
 * An http(s) URL to link to, as given, or null: never a `javascript:` or other scheme (the API
 * allows no other for a cockpit; this is a second lock). For the browser and the server.
 */
export function safeHttpUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:' ? value : null;
  } catch {
    return null;
  }
}
