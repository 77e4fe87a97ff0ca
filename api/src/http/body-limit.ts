import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { ServerContext } from './context.ts';

/**
 * The POST /graphql body limit (GRAPHQL_MAX_BODY_BYTES), in place of yoga's
 * `maxRequestBodySize`, with the same answers: 413 REQUEST_ENTITY_TOO_LARGE, 400 BAD_REQUEST for
 * a Content-Length that is not one whole number. Yoga pipes every body through a counting
 * TransformStream (a stream pipeline, an AbortController and a new Request per request); a body
 * that came through node's HTTP parser with a Content-Length within the limit needs none of it,
 * since the parser delivers exactly that many bytes. Chunked bodies and in-process requests
 * (whose Content-Length frames nothing) are still counted as they are read.
 */

const CONTENT_LENGTH = /^\d+$/;

const tooLarge = () =>
  createGraphQLError('Request body too large', {
    extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' },
  });

const invalidContentLength = () =>
  createGraphQLError('Content-Length header is invalid.', {
    extensions: { http: { status: 400 }, code: 'BAD_REQUEST' },
  });

/** `request` with its body counted as it is read: over `limit` bytes, reading fails with a 413. */
function countedRequest(
  request: Request,
  limit: number,
  fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream },
): Request {
  const body = request.body;
  if (!body) return request;
  // A native ReadableStream needs the native TransformStream (as in yoga's own limit).
  const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let read = 0;
  const counted = body.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        if (read > limit) {
          controller.error(tooLarge());
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: counted,
    duplex: 'half',
  } as RequestInit);
}

/** Must come after every plugin that sets a request parser (it wraps the one chosen). */
export function bodyLimitPlugin(limit: number): Plugin<object, ServerContext> {
  return {
    onRequestParse({ request, serverContext, requestParser, setRequestParser, fetchAPI }) {
      const contentLength = request.headers.get('content-length');
      if (contentLength !== null) {
        if (!CONTENT_LENGTH.test(contentLength)) throw invalidContentLength();
        if (Number(contentLength) > limit) throw tooLarge();
        // Framed by node's HTTP parser (which refuses Content-Length with Transfer-Encoding).
        if (serverContext?.req) return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => parse(countedRequest(req, limit, fetchAPI)));
    },
  };
}
