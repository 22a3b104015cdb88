/**
 * Found by a review of the operator's CLI: `regauth schema -o FILE` wrote over whatever FILE was,
 * without a word: `regauth schema -o config.yml` (a slip for config.schema.json, or tab completion
 * picking the wrong file) replaced the operator's config with the JSON Schema, exit 0. A file
 * that is no schema regauth wrote is now left as it is (exit 2); its own schema, of any version,
 * is rewritten.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-cli-schema-');
afterAll(() => tmp.cleanup());

const regauth = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { cwd: tmp.dir, encoding: 'utf8' });

test('schema -o over a file that is not a regauth schema (the config): refused, the file unchanged', () => {
  const config =
    'token: {issuer: regauth}\nusers: {alice: {}}\nacl:\n  - {match: {account: alice}, actions: [pull]}\n';
  writeFileSync(join(tmp.dir, 'config.yml'), config);
  const run = regauth('schema', '-o', 'config.yml');
  expect(readFileSync(join(tmp.dir, 'config.yml'), 'utf8')).toBe(config);
  expect(run.status).toBe(2);
  expect(run.stderr).toContain("--output config.yml: holds something other than regauth's config schema");
});

test('schema -o over the schema it wrote before (after an upgrade): still rewritten', () => {
  expect(regauth('schema', '-o', 'config.schema.json').status).toBe(0);
  writeFileSync(
    join(tmp.dir, 'config.schema.json'),
    readFileSync(join(tmp.dir, 'config.schema.json'), 'utf8').replace('"title"', '"title_old"'),
  );
  expect(regauth('schema', '-o', 'config.schema.json').status).toBe(0);
  expect(readFileSync(join(tmp.dir, 'config.schema.json'), 'utf8')).toBe(regauth('schema').stdout);
});

test('schema -o into a new folder, or over an empty file: written, and nothing left beside it', () => {
  expect(regauth('schema', '-o', 'new/config.schema.json').status).toBe(0);
  expect(readFileSync(join(tmp.dir, 'new/config.schema.json'), 'utf8')).toBe(regauth('schema').stdout);
  writeFileSync(join(tmp.dir, 'empty.json'), '');
  expect(regauth('schema', '-o', 'empty.json').status).toBe(0);
  expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});
