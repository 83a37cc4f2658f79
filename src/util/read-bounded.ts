/**
 * Reads a fetch() response body as UTF-8, giving up as soon as it passes `max` bytes: a chunked
 * (no content-length) or endless answer must not be buffered whole before the size check.
 * Returns undefined when the body is larger than `max` (the stream is cancelled).
 */
export async function readBounded(res: Response, max: number): Promise<string | undefined> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
