import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL served by the api itself. Yoga's default page loads its scripts from a CDN and stays
 * blank without internet; @graphql-yoga/render-graphiql inlines everything instead (≈9 MB: the
 * scripts, styles, fonts and the editor's web workers, started from blobs).
 */

type Render = (options?: GraphiQLOptions) => string;

let renderer: Promise<Render> | undefined;
let last: { key: string; page: Promise<string> } | undefined;

/** Loaded on the first GraphiQL page: an api on which nobody opens GraphiQL never holds the 9 MB. */
function loadRenderer(): Promise<Render> {
  renderer ??= import('@graphql-yoga/render-graphiql').then(
    (module) => module.renderGraphiQL,
    (err: unknown) => {
      renderer = undefined; // let the next request try again
      throw err;
    },
  );
  return renderer;
}

/**
 * The yoga `renderGraphiQL` option. The page only depends on the options (one set here, see
 * graphiqlFor), so it is built once and kept rather than assembled anew on every request.
 */
export function renderLocalGraphiQL(options: GraphiQLOptions): Promise<string> {
  const key = JSON.stringify(options);
  if (last?.key !== key) {
    const page = loadRenderer().then((render) => render(options));
    page.catch(() => {
      if (last?.page === page) last = undefined;
    });
    last = { key, page };
  }
  return last.page;
}
