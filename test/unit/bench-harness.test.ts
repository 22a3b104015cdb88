import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { regauthNodeFlags } from '../../bench/harness.js';
import { tempDir } from '../helpers/fixtures.js';

/** The bench starts regauth with the node flags of the build's own #! line, as the image does. */
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function build(firstLine: string): string {
  const dir = join(tmp.dir, String(Math.random()).slice(2));
  mkdirSync(join(dir, 'dist/cli'), { recursive: true });
  writeFileSync(join(dir, 'dist/cli/main.js'), `${firstLine}\nconsole.log(1);\n`);
  return dir;
}

describe('regauthNodeFlags', () => {
  test.each([
    ['#!/usr/bin/env -S node --max-semi-space-size=8', ['--max-semi-space-size=8']],
    ['#!/usr/bin/env -S node --a=1  --b', ['--a=1', '--b']],
    ['#!/usr/bin/env node', []],
  ])('%s', (line, flags) => {
    expect(regauthNodeFlags(build(line))).toEqual(flags);
  });

  test('a first line that does not start node is an error naming the file', () => {
    for (const line of ['#!/bin/sh', 'import x from "y";']) {
      expect(() => regauthNodeFlags(build(line))).toThrow(
        /dist\/cli\/main\.js does not start with a node #! line/,
      );
    }
  });
});
