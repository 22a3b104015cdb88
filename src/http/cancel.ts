import type { ServerResponse } from 'node:http';
import type { Runtime } from '../pipeline/runtime.js';

/**
 * The reason a request's signal gives when its response has closed. Made once: abort() without a
 * reason builds a DOMException, stack trace included, on every request.
 */
const ANSWERED = new Error('the request has been answered');

/**
 * A signal aborted once the response is sent or the client is gone, so that what is still queued
 * for the request (an ext command waiting for a slot, or running) is dropped. Made only when a
 * backend can be cancelled (Runtime.cancellable): a controller and a close listener per request
 * cost about 5 % of a cached token's CPU. The token endpoint, `/v2/_catalog` and the registry
 * page all take theirs here.
 */
export function cancelledOnClose(res: ServerResponse, runtime: Runtime): AbortSignal | undefined {
  if (!runtime.cancellable) return undefined;
  const controller = new AbortController();
  res.once('close', () => controller.abort(ANSWERED));
  return controller.signal;
}
