/**
 * A fetch response's body as it arrives, up to `max` bytes: past it (or a Content-Length past it)
 * the read stops and this throws (a hostile or broken peer could otherwise send gigabytes within
 * the request's timeout). A reader that stops early cancels the rest. The response's own signal
 * still bounds how long reading takes.
 */
export async function* bodyAtMost(response: Response, max: number): AsyncGenerator<Uint8Array> {
  const tooLarge = () => new Error(`${response.url || 'the peer'} sent more than ${max} bytes`);
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
 * Why a request to a peer failed, in a few words for the log: the error's message, with the HTTP
 * status the peer answered or the code of the network error beneath it (ECONNREFUSED, ENOTFOUND,
 * CERT_HAS_EXPIRED, …) when the message does not say it already. Errors of fetch and
 * openid-client name neither the request's headers nor its body, where credentials travel.
 */
export function failureReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const chain: object[] = [];
  for (let e: unknown = err; chain.length < 5 && e !== null && typeof e === 'object';) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  const status = chain.map((e) => (e as { status?: unknown }).status).find((s) => typeof s === 'number');
  const below = chain.slice(1) as { code?: unknown; message?: unknown }[];
  const code = below.map((e) => e.code).find((c): c is string => typeof c === 'string');
  const deepest = below.map((e) => e.message).findLast((m): m is string => typeof m === 'string' && m !== '');
  const detail = status !== undefined ? `HTTP ${String(status)}` : (code ?? deepest);
  return detail === undefined || message.includes(detail) ? message : `${message} (${detail})`;
}
