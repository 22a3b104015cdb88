/**
 * While the lockout's store cannot answer, an operation may take timeout_ms before it
 * fails (ioredis queues commands while the connection is down, bounded by commandTimeout). A
 * wrong guess from a stranger waits for that failure holding a login-queue place; the same
 * stranger's cached right password is reserved too (it meets the same store operations) but
 * holds no place. Both end 503, uncounted, but the attacker's own next login from the same
 * address tells which: 429 (places taken) after a wrong guess, 503 after the right password.
 *
 * Found by a review. A client that has not logged in from its address is now checked in full
 * (Credentials.uncached), so its right password meets what a wrong one meets.
 */
import bcrypt from 'bcryptjs';
import { afterAll, expect, test } from 'vitest';
import { randomPassword } from '../helpers/fixtures.js';
import { steppedStore, useGuardedServer } from '../helpers/lockout.js';

const password = randomPassword();
/** false: the store answers; 'hang': every operation waits until `fail()` (a Redis gone quiet). */
let down: false | 'hang' | 'all' = false;
const { store, hanging } = steppedStore(() => (!down ? 'answer' : down === 'all' ? 'fail' : 'hang'));

const { login, queue } = useGuardedServer({
  sections: `users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
credential_cache: {ttl: 300}
login_queue: {per_client: 2, max_pending: 100}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`,
  lockout: { store, shared: true },
});
// Before the server closes (hooks after the tests run last-registered first).
afterAll(() => {
  down = 'all';
  for (const f of hanging.splice(0)) f();
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

/**
 * During a quiet outage, from `ip`: one made-up login (a place), the probe, then a detector
 * login. Returns every status and the queue's backlog seen while the probe was in flight.
 */
async function probe(ip: string, pw: string) {
  down = 'hang';
  const filler = login(ip, `made-up-${randomPassword().slice(0, 6)}`, 'x');
  await until(() => hanging.length === 1);
  const probed = login(ip, 'alice', pw);
  await until(() => hanging.length === 2);
  const pending = queue.pending;
  let detectorStatus: number | undefined;
  const detector = login(ip, `made-up-${randomPassword().slice(0, 6)}`, 'y').then(
    (st) => (detectorStatus = st),
  );
  await until(() => detectorStatus !== undefined || hanging.length === 3);
  down = 'all';
  for (const f of hanging.splice(0)) f();
  const statuses = { filler: await filler, probe: await probed, detector: await detector, pending };
  down = false;
  return statuses;
}

test("a stranger's cached right password and a wrong guess hold the same queue places during an outage", async () => {
  expect(await login('10.1.0.99', 'alice', password)).toBe(200); // cached
  const wrong = await probe('192.0.2.31', 'guess');
  const right = await probe('192.0.2.32', password);
  expect(wrong.probe).toBe(503);
  expect(right.probe).toBe(503); // the outage parity the fix added holds...
  // ...but what the attacker's next login from the same address gets tells them apart.
  expect(right).toEqual(wrong);
});
