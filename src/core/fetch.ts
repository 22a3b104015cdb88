/**
 * A fetch response's body, read up to `max` bytes: past it the read stops and this throws (a
 * hostile or broken peer could otherwise send gigabytes within the request's timeout, all held
 * in memory). The response's own signal still bounds how long reading takes.
 */
export async function readAtMost(response: Response, max: number): Promise<Buffer> {
  const tooLarge = () => new Error(`${response.url || 'the peer'} sent more than ${max} bytes`);
  if (Number(response.headers.get('content-length') ?? 0) > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const reader = response.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
