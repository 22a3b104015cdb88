/**
 * Found by a review of how regauth is shipped and deployed.
 *
 * Defect: the compose quick start publishes HAProxy on every interface of the host
 * (`ports: ['443:8443']` in compose/compose.yml), while the regauth config it runs ships
 * well-known passwords: `admin` / `change-me` with `actions: ['*']` on every repository, and
 * `alice` / `alice-password`, both printed in README.md and docs/deployment.md. Anyone who can
 * reach the host's port 443 (the LAN, or the internet on a cloud VM where "try the quick start"
 * is typically run) asks `https://HOST/auth?service=localhost&scope=repository:x/y:*` with Basic
 * admin:change-me and gets a token the registry accepts (the realm naming `localhost` does not
 * matter to a client that calls /auth itself): push, pull and delete of every repository.
 *
 * The project's own rule for the other quick start says this must not happen: docs/deployment.md
 * "Listen address": "`config.example.yml`, the quick start's config, listens on `127.0.0.1:5001`:
 * it ships sample passwords and anonymous pull, so it answers this machine only", and the
 * documented `docker run` publishes `-p 127.0.0.1:5001:5001` because "a bare `-p 5001:5001`
 * would publish it on every interface". The compose stack ships the same kind of sample
 * passwords (and anonymous pull of public/) and publishes its entry point bare.
 *
 * Fix (compose/compose.yml): publish `127.0.0.1:443:8443` (the quick start's `localhost` is all
 * it serves: its realm, certificate and service all name `localhost`), and let the "another host
 * name" paragraph of docs/deployment.md say to widen the binding together with replacing the
 * sample users.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import bcrypt from 'bcryptjs';
import { load } from 'js-yaml';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');

type PortSpec = string | number | { host_ip?: string; published?: string | number; target?: number };
interface Compose {
  services: Record<string, { ports?: PortSpec[] }>;
}

/** The host address a published port binds, '' when it names none (every interface). */
function hostIp(spec: PortSpec): string {
  if (typeof spec === 'number') return '';
  if (typeof spec === 'object') return spec.host_ip ?? '';
  // [HOST_IP:]HOST_PORT:CONTAINER_PORT[/proto], HOST_IP possibly [v6] in brackets.
  const bracketed = /^\[([^\]]+)\]:/.exec(spec);
  if (bracketed) return bracketed[1]!;
  const parts = spec.replace(/\/(tcp|udp|sctp)$/, '').split(':');
  return parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** The sample accounts of compose/regauth/config.yml whose documented password still works. */
function samplePasswordsShipped(): string[] {
  const config = load(read('compose/regauth/config.yml')) as {
    users?: Record<string, { password?: string }>;
  };
  const documented: Record<string, string> = { admin: 'change-me', alice: 'alice-password' };
  return Object.entries(documented)
    .filter(([user, password]) => {
      const hash = config.users?.[user]?.password;
      return hash !== undefined && bcrypt.compareSync(password, hash);
    })
    .map(([user, password]) => `${user} / ${password}`);
}

test('compose publishes a stack with sample passwords (and anonymous pull) on this machine only', () => {
  const compose = load(read('compose/compose.yml')) as Compose;
  const exposed: string[] = [];
  for (const [name, service] of Object.entries(compose.services)) {
    for (const spec of service.ports ?? []) {
      if (!LOOPBACK.test(hostIp(spec))) exposed.push(`${name}: ${JSON.stringify(spec)}`);
    }
  }
  const samples = samplePasswordsShipped();
  expect(
    samples.length > 0 ? exposed : [],
    `published on every interface of the host while ${samples.join(', ')} log in (admin may push, pull and delete anything)`,
  ).toEqual([]);
});
