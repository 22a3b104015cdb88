/**
 * A fetch response's body as it arrives, up to `max` bytes: past it (or a Content-Length past it)
 * the read stops and this throws (a hostile or broken peer could otherwise send gigabytes within
 * the request's timeout). A reader that stops early cancels the rest. The response's own signal
 * still bounds how long reading takes.
 */
export async function* bodyAtMost(response: Response, max: number): AsyncGenerator<Uint8Array> {
  const tooLarge = () =>
    Object.assign(new Error(`${response.url || 'the peer'} sent more than ${max} bytes`), {
      code: 'ERR_RESPONSE_TOO_LARGE',
    });
  if (Number(response.headers.get('content-length') ?? 0) > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const reader = response.body?.getReader();
  if (!reader) return;
  let ended = false;
  try {
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        return;
      }
      size += value.byteLength;
      if (size > max) throw tooLarge();
      yield value;
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => undefined);
  }
}

/** {@link bodyAtMost}, whole, in memory: for a body known to be small (a document, a key set). */
export async function readAtMost(response: Response, max: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of bodyAtMost(response, max)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The most {@link fetchAtMost} reads by default: the documents it fetches are a few KB. */
export const MAX_FETCHED_BYTES = 1 << 20;

/**
 * fetch, its body read here and refused past `max` bytes (a hostile or broken peer could send
 * gigabytes within the timeout), and handed on as text with the status and headers it came with,
 * for libraries that take a fetch of their own (openid-client's and jose's `customFetch`). The
 * headers that described the body as sent (its length, its encoding) are dropped: the text is
 * decoded already.
 */
export async function fetchAtMost(
  input: string,
  init: RequestInit,
  max: number = MAX_FETCHED_BYTES,
): Promise<Response> {
  const response = await fetch(input, init);
  // As fetch's own reading does: UTF-8, a leading BOM dropped.
  const text = new TextDecoder().decode(await readAtMost(response, max));
  const headers = new Headers(response.headers);
  for (const name of ['content-length', 'content-encoding', 'transfer-encoding']) headers.delete(name);
  // No statusText: fetch decodes a reason phrase as UTF-8, and one holding bytes past ASCII (which
  // HTTP allows) would make Response throw. Nothing downstream reads it.
  return new Response(text, { status: response.status, headers });
}

/**
 * Why a request to a peer failed, in a few words for the log: the HTTP status the peer answered
 * when it is no success, else the error's code (the network's beneath fetch's "fetch failed":
 * ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED, …; else the library's, OAUTH_PARSE_ERROR), else what
 * fetch's failure says beneath it (`bad port`), else the kind of error. Never an error's own
 * message otherwise: some quote the request (undici refuses a header value by quoting it, a
 * bearer token among them).
 */
export function failureReason(err: unknown): string {
  const chain: object[] = [];
  for (let e: unknown = err; chain.length < 5 && e !== null && typeof e === 'object';) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  const fields = chain as { status?: unknown; code?: unknown; message?: unknown; name?: unknown }[];
  // A 2xx status is no reason: the answer came, and was wrong (not JSON, say), which a code says.
  const status = fields.map((e) => e.status).find((s) => typeof s === 'number' && (s < 200 || s > 299));
  if (status !== undefined) return `HTTP ${String(status)}`;
  const codes = fields.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const code = codes.length > 1 ? codes[1] : codes[0];
  if (code !== undefined) return code;
  const beneath = fields[1]?.message;
  if (fields[0]?.message === 'fetch failed' && typeof beneath === 'string' && beneath !== '') return beneath;
  const name = fields[0]?.name;
  if (name === 'TimeoutError') return 'timed out';
  if (name === 'SyntaxError') return 'not JSON';
  return typeof name === 'string' && name !== '' ? name : 'an unknown error';
}
