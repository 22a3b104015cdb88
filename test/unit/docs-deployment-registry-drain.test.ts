/**
 * Found by a review of how regauth is shipped and deployed.
 *
 * Defect: the compose stack's key rotation restarts the registry (docs/deployment.md "The keys
 * and trust volumes, and key rotation": `docker compose restart registry`, because registry 2.8
 * reads `rootcertbundle` only at start) and then promises "No pull or push fails at any step".
 * But compose/registry/config.yml sets no `http.draintimeout`, and registry 2.8 (distribution
 * `registry.go` ListenAndServe) only handles SIGTERM when it is set: with the default 0 it serves
 * without a signal handler, so the SIGTERM of `docker compose restart` ends the process at once
 * (Go's default for SIGTERM), cutting every pull and push in flight through HAProxy (a layer
 * half-downloaded or half-uploaded, a manifest PUT). With `http.draintimeout` the registry stops
 * accepting and lets them finish (Go's http.Server.Shutdown), which also needs a compose
 * `stop_grace_period` longer than the drain, or docker's default 10 s SIGKILLs it mid-drain.
 * (Related: no `http.secret` either, so the registry makes a new random one at every start and an
 * upload begun before the restart cannot be finished after it: its `_state` no longer verifies.)
 *
 * Who is hurt: every client with a transfer under way while the operator rotates the token key
 * the documented way; the rotation is sold as invisible to clients.
 *
 * Fix: compose/registry/config.yml `http.draintimeout` (e.g. 60s) and `stop_grace_period` above it
 * on the `registry` service of compose/compose.yml (and, for uploads across the restart, a stable
 * `http.secret`, e.g. REGISTRY_HTTP_SECRET from the keys one-shot); or say in docs/deployment.md
 * that the registry restart interrupts transfers in flight.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load } from 'js-yaml';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');

/** Docker's stop timeout when compose sets no stop_grace_period. */
const DOCKER_DEFAULT_STOP_S = 10;

/** A Go duration (`60s`, `1m30s`, `500ms`) or compose duration in seconds; 0 when absent. */
function seconds(value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total;
}

test('the compose registry drains transfers in flight on SIGTERM, within compose stop grace', () => {
  const registry = load(read('compose/registry/config.yml')) as { http?: { draintimeout?: string | number } };
  const drainS = seconds(registry.http?.draintimeout);
  expect(
    drainS,
    'http.draintimeout of compose/registry/config.yml: 0 = SIGTERM kills transfers in flight',
  ).toBeGreaterThan(0);

  const compose = load(read('compose/compose.yml')) as {
    services: Record<string, { stop_grace_period?: string | number }>;
  };
  const stopS = seconds(compose.services['registry']!.stop_grace_period) || DOCKER_DEFAULT_STOP_S;
  expect(
    stopS,
    `docker SIGKILLs the registry after ${stopS} s, before its ${drainS} s drain ends`,
  ).toBeGreaterThan(drainS);
});
