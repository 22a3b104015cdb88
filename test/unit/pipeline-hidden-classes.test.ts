/**
 * The objects a cached login makes on its way keep one hidden class (V8's map) from request to
 * request. Node 20's V8 gives an object made as `{ ...source, extra }` a map of its own each
 * time; every later read of such an object missed V8's property caches and went to the runtime,
 * several times per token (docs/performance.md "Hidden classes on the cached path").
 */
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { beforeAll, describe, expect, test } from 'vitest';
import { answerNow } from '../../src/authn/chain.js';
import { createLogger } from '../../src/core/log.js';
import { createMetrics, instrumentAuthenticator } from '../../src/pipeline/metrics.js';
import { authenticateNow, authenticateRequest } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { useConfigText } from '../helpers/config.js';
import { basic, hash, randomPassword } from '../helpers/fixtures.js';

setFlagsFromString('--allow-natives-syntax');
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

const config = useConfigText('regauth-hidden-classes-');
const password = randomPassword();
let runtime: Runtime;

const request = () =>
  parseTokenRequest({
    method: 'GET',
    query: 'service=registry.test&scope=repository%3Aalice%2Fapp%3Apull',
    authorization: basic('alice', password),
    body: '',
  });

beforeAll(async () => {
  const metrics = createMetrics();
  const logger = createLogger({
    format: 'json',
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  runtime = createRuntime(
    config.load(
      `users:\n  alice:\n    password: "${hash(password)}"\nacl:\n  - match: {account: alice}\n    actions: ["*"]\n`,
    ),
    { logger, instrument: (a) => instrumentAuthenticator(a, metrics) },
  );
  // The first login checks the password and leaves it in the credential cache.
  const first = request();
  await authenticateRequest(runtime, first, Math.floor(Date.now() / 1000), { client: '127.0.0.1' });
  for (const a of runtime.authenticators) a.remember?.(first.credentials);
});

/** What `make` returns for many cached logins in a row, the last few (V8 has optimised it by then). */
function lastOf<T>(make: () => T): T[] {
  const made: T[] = [];
  for (let i = 0; i < 2000; i++) made.push(make());
  return made.slice(-5);
}

describe('a cached login', () => {
  test("is answered at once, with the chain's answer and the identity each in one hidden class", () => {
    const answers = lastOf(() => answerNow(runtime.authenticators, request().credentials));
    const identities = lastOf(() => authenticateNow(runtime, request()));
    for (const list of [answers, identities]) {
      expect(list.every((x) => x !== undefined)).toBe(true);
      for (const x of list) expect(sameMap(x!, list[0]!)).toBe(true);
    }
    expect(identities[0]).toEqual({
      account: 'alice',
      labels: {},
      by: 'users',
      fingerprint: expect.any(String),
    });
  });
});
