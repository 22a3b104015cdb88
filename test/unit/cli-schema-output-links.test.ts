/**
 * Found by a review of the first version of `schema -o`'s refusal to overwrite (00bab3c), which
 * also wrote through a temporary file renamed over the output: that file's name
 * (`${output}.${pid}.tmp`) could be predicted and was opened following links, so a link planted
 * there made `schema -o` overwrite whatever it pointed at; and an output that is a link to a
 * schema was replaced by a plain file, its target left stale. The schema is written in place
 * again, through the link as before.
 */
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { regauth } from '../helpers/cli.js';

const tmp = tempDir('regauth-cli-schema-links-');
afterAll(() => tmp.cleanup());

test('a symlink planted at the temporary name does not get the schema written through it', async () => {
  const victim = join(tmp.dir, 'victim.yml');
  const config = 'token: {issuer: regauth}\nusers: {alice: {}}\n';
  writeFileSync(victim, config);
  const output = join(tmp.dir, 'config.schema.json');
  symlinkSync(victim, `${output}.${process.pid}.tmp`);
  await regauth(['schema', '-o', output]);
  // The operator named config.schema.json, which did not exist: victim.yml must be untouched.
  expect(readFileSync(victim, 'utf8')).toBe(config);
});

test('an output that is a symlink to the schema is written through, the link kept', async () => {
  const shared = join(tmp.dir, 'shared.schema.json');
  expect((await regauth(['schema', '-o', shared])).code).toBe(0);
  writeFileSync(shared, readFileSync(shared, 'utf8').replace('"title"', '"title_old"'));
  const link = join(tmp.dir, 'linked.schema.json');
  symlinkSync(shared, link);
  const run = await regauth(['schema', '-o', link]);
  expect(run.code).toBe(0);
  expect({
    linkStillALink: lstatSync(link).isSymbolicLink(),
    targetUpdated: !readFileSync(shared, 'utf8').includes('"title_old"'),
  }).toEqual({ linkStillALink: true, targetUpdated: true });
});

test('an output that is a symlink to a file that is no schema: refused, the file unchanged', async () => {
  const config = join(tmp.dir, 'linked-config.yml');
  writeFileSync(config, 'token: {issuer: regauth}\n');
  const link = join(tmp.dir, 'to-config.schema.json');
  symlinkSync(config, link);
  const run = await regauth(['schema', '-o', link]);
  expect(run.code).toBe(2);
  expect(readFileSync(config, 'utf8')).toBe('token: {issuer: regauth}\n');
});
