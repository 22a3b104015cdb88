/** The login queue as `regauth serve` wires it: from the config, reloaded with it, in /metrics. */
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { randomPassword } from '../helpers/fixtures.js';
import { startRegauth, type RegauthStack } from './harness/stack.js';

let stack: RegauthStack;
const password = randomPassword();
const config = (maxPending: number) => `users:
  alice: {password: "${bcrypt.hashSync(password, 9)}"}
login_queue: {max_pending: ${maxPending}, per_client: 100, retry_after: 2}
lockout: {enabled: false}
acl: [{match: {}, actions: [pull]}]
`;

beforeAll(async () => {
  stack = await startRegauth({ name: 'login-queue', config: config(1), serviceOptions: { watch: false } });
});
afterAll(() => stack?.stop());

const flood = (n: number) =>
  Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${stack.regauth.url}/auth?service=s&scope=repository:x:pull`, {
        headers: { authorization: `Basic ${Buffer.from(`nobody${i}:guess`).toString('base64')}` },
      });
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    }),
  );

test('max_pending from the config turns the overflow away with 503; a reload raises it; /metrics counts it', async () => {
  const first = await flood(12);
  const busy = first.filter((a) => a.status === 503);
  expect(busy.length).toBeGreaterThan(0);
  expect(busy.every((a) => a.retryAfter === '2')).toBe(true);
  const metrics = await (await fetch(`${stack.regauth.url}/metrics`)).text();
  expect(metrics).toContain(`regauth_login_queue_rejections_total{reason="full"} ${busy.length}`);
  expect(metrics).toContain('regauth_login_queue_pending 0');

  stack.writeConfig({ config: config(100) });
  await stack.regauth.reload();
  const second = await flood(12);
  expect(second.map((a) => a.status)).toEqual(Array(12).fill(401));
});
