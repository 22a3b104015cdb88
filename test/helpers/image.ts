import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The node flags the image starts regauth with: those between `node` and the CLI in the
 * Dockerfile's ENTRYPOINT (`["node", "--flag", …, "/app/dist/cli/main.js"]`). An ENTRYPOINT of
 * `["regauth"]` (the image before it had flags) has none. The bench and the deploy test start
 * regauth with them, as the image does.
 */
export function imageNodeFlags(dir: string): string[] {
  const file = join(dir, 'Dockerfile');
  const dockerfile = readFileSync(file, 'utf8');
  const line = [...dockerfile.matchAll(/^ENTRYPOINT\s+(.*)$/gm)].at(-1)?.[1];
  let words: unknown;
  try {
    words = line === undefined ? undefined : JSON.parse(line);
  } catch {
    words = undefined;
  }
  if (!Array.isArray(words) || !words.every((w) => typeof w === 'string')) {
    throw new Error(`${file}: no ENTRYPOINT in JSON form (["node", flags…, "…/dist/cli/main.js"])`);
  }
  if (words.length === 1 && words[0] === 'regauth') return [];
  const cli = words.findIndex((w) => w.endsWith('/dist/cli/main.js'));
  if (words[0] !== 'node' || cli < 1) {
    throw new Error(`${file}: the ENTRYPOINT ${line} does not start node with the CLI`);
  }
  return words.slice(1, cli);
}
