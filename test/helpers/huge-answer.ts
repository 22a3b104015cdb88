import type { ServerResponse } from 'node:http';

/** What {@link writeHuge} sends before its end: 64 MiB, far past any bound regauth reads to. */
export const HUGE_BYTES = 64 << 20;

/**
 * Answers with {@link HUGE_BYTES} of spaces (JSON whitespace), then `end`, honouring
 * backpressure; `written.bytes` counts what was handed to the socket so far, so a test can tell a
 * reader that stopped from one that read it all.
 */
export function writeHuge(res: ServerResponse, end: string, written: { bytes: number }): void {
  res.setHeader('content-type', 'application/json');
  const chunk = Buffer.alloc(1 << 20, 0x20);
  const more = () => {
    while (written.bytes < HUGE_BYTES) {
      written.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end(end);
  };
  more();
}
