/**
 * Found by a review of the external-program backends: the image starts node as its entry point,
 * so without an init regauth is PID 1, and every process a killed ext command leaves (a `sleep`
 * of a script that timed out, an `&` job) is handed to it. node never reaps a process it did not
 * start: each stays a zombie until the container's process limit is reached and every run fails.
 * compose/compose.yml runs regauth with an init; a server that runs ext commands as PID 1 says so.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load } from 'js-yaml';
import { expect, test } from 'vitest';
import { pidOneWarnings } from '../../src/ext/config.js';

const ext = { command: '/bin/true', args: [], timeoutMs: 5000, maxConcurrency: 8, maxPerClient: 2 };

test('ext_auth or ext_authz run by PID 1: a warning that names the init to add', () => {
  for (const config of [{ ext_auth: ext }, { ext_authz: ext }, { ext_auth: ext, ext_authz: ext }]) {
    const warnings = pidOneWarnings(config, 1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.path).toBe(config.ext_auth ? 'ext_auth' : 'ext_authz');
    expect(warnings[0]!.message).toMatch(/PID 1.*zombie.*docker run --init.*init: true/s);
  }
});

test('no warning for another process, or for PID 1 without ext commands', () => {
  expect(pidOneWarnings({ ext_auth: ext, ext_authz: ext }, 4242)).toEqual([]);
  expect(pidOneWarnings({}, 1)).toEqual([]);
});

test('compose/compose.yml runs every regauth service with an init', () => {
  const compose = load(readFileSync(resolve(import.meta.dirname, '../../compose/compose.yml'), 'utf8')) as {
    services: Record<string, { image?: string; init?: boolean; command?: unknown }>;
  };
  expect(compose.services['regauth']?.init).toBe(true);
});
