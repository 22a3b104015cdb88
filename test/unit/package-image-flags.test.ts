import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { imageNodeFlags } from '../helpers/image.js';
import { tempDir } from '../helpers/fixtures.js';

/** The bench and the deploy test start regauth with the node flags of the image's ENTRYPOINT. */
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function tree(dockerfile: string): string {
  const dir = join(tmp.dir, String(Math.random()).slice(2));
  mkdirSync(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

describe('imageNodeFlags', () => {
  test.each([
    ['ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/cli/main.js"]', ['--max-semi-space-size=8']],
    ['ENTRYPOINT ["node", "--a=1", "--b", "/app/dist/cli/main.js"]\r', ['--a=1', '--b']],
    ['ENTRYPOINT ["node", "/app/dist/cli/main.js"]', []],
    // The image before it had flags: `regauth` through its #! line.
    ['ENTRYPOINT ["regauth"]', []],
  ])('%s', (line, flags) => {
    expect(imageNodeFlags(tree(`FROM node\n${line}\nCMD ["serve"]\n`))).toEqual(flags);
  });

  test('the last ENTRYPOINT counts, as in a multi-stage build', () => {
    const dir = tree(
      'FROM a\nENTRYPOINT ["regauth"]\nFROM b\nENTRYPOINT ["node", "--x", "/app/dist/cli/main.js"]\n',
    );
    expect(imageNodeFlags(dir)).toEqual(['--x']);
  });

  test.each([
    ['FROM node\n', /no ENTRYPOINT in JSON form/],
    ['ENTRYPOINT regauth serve\n', /no ENTRYPOINT in JSON form/],
    ['ENTRYPOINT ["sh", "-c", "node /app/dist/cli/main.js"]\n', /does not start node with the CLI/],
    ['ENTRYPOINT ["node", "--x"]\n', /does not start node with the CLI/],
  ])('%j is an error naming the Dockerfile', (dockerfile, message) => {
    const dir = tree(dockerfile);
    expect(() => imageNodeFlags(dir)).toThrow(message);
    expect(() => imageNodeFlags(dir)).toThrow(join(dir, 'Dockerfile'));
  });

  test("the repository's image starts node with the young-generation cap, the old generation's growth and two V8 helpers", () => {
    expect(imageNodeFlags(resolve(import.meta.dirname, '../..'))).toEqual([
      '--max-semi-space-size=8',
      '--heap-growing-percent=100',
      '--v8-pool-size=2',
    ]);
  });
});
