/**
 * While the lockout's store cannot answer, `on_store_error: fail_closed` answers every login whose
 * password must be checked 503, before checking it and uncounted. A login the credential cache
 * holds used to be served all the same, from any address: a wrong guess got 503 and the cached
 * right password 200, as often as the attacker liked, the oracle an outage must not open
 * (docs/security.md, "Across replicas"). Now the cache answers only a client that logged in to
 * the account here and was not refused unchecked since; others' cached logins meet the store as
 * their guesses do (the same operations, the same 503).
 */
import bcrypt from 'bcryptjs';
import { expect, test } from 'vitest';
import { randomPassword } from '../helpers/fixtures.js';
import { steppedStore, useGuardedServer } from '../helpers/lockout.js';

const password = randomPassword();
/** Whether the store answers: not at all, or reads only (a replica left read-only, memory full). */
let down: false | 'all' | 'writes' = false;
let onStoreError: 'fail_closed' | 'fail_open' = 'fail_closed';
/** A shared store (no answer at once) that can go down, as Redis does. */
const { store, failed } = steppedStore((operation) =>
  !down || (down === 'writes' && operation === 'blocked') ? 'answer' : 'fail',
);

const { login } = useGuardedServer({
  sections: `users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`,
  lockout: { store, onStoreError: () => onStoreError },
});

/** Runs `during` with the store down (`how`: not answering at all, or refusing writes). */
async function outage(during: () => Promise<void>, how: 'all' | 'writes' = 'all'): Promise<void> {
  down = how;
  try {
    await during();
  } finally {
    down = false;
  }
}

test('fail_closed: wrong guesses and the cached right password get the same 503; a known client is served', async () => {
  expect(await login('10.1.0.99', 'alice', password)).toBe(200); // alice at home: cached
  await outage(async () => {
    const ip = '192.0.2.9';
    expect(await login(ip, 'alice', password)).toBe(503);
    const wrong: number[] = [];
    // Far more than max_failures (3) and account_max_failures (10): none is checked or counted.
    for (let i = 0; i < 20; i++) wrong.push(await login(ip, 'alice', `guess-${i}`));
    expect(wrong).toEqual(Array(20).fill(503));
    expect(await login(ip, 'alice', password)).toBe(503);
    // alice pulls on from where she logged in.
    expect(await login('10.1.0.99', 'alice', password)).toBe(200);
  });
  expect(await login('192.0.2.9', 'alice', password)).toBe(200);
});

test('fail_closed: the cached right password fails the same store operations as a wrong guess (/metrics)', async () => {
  expect(await login('10.1.0.97', 'alice', password)).toBe(200);
  const tried = async (pw: string) => {
    failed.length = 0;
    const status = await login('192.0.2.11', 'alice', pw);
    return { status, failed: [...failed] };
  };
  await outage(async () => {
    const right = await tried(password);
    const wrong = await tried('guess');
    expect(right).toEqual(wrong);
    expect(right.status).toBe(503);
  });
});

test('fail_closed, writes refused: a stranger gets 503 for the cached right password as for guesses', async () => {
  await outage(async () => {
    const ip = '192.0.2.12';
    const wrong: number[] = [];
    for (let i = 0; i < 20; i++) wrong.push(await login(ip, 'alice', `guess-${i}`));
    expect(wrong).toEqual(Array(20).fill(503));
    expect(failed.filter((o) => o === 'failure')).toEqual([]); // none counted
    expect(await login(ip, 'alice', password)).toBe(503);
    // alice pulls on from home: her lock is read, and the success she cannot record is lost.
    expect(await login('10.1.0.99', 'alice', password)).toBe(200);
  }, 'writes');
});

test("fail_closed: a guess refused unchecked from the owner's address ends its standing until it logs in again", async () => {
  const ip = '10.1.0.98';
  expect(await login(ip, 'alice', password)).toBe(200);
  await outage(async () => {
    expect(await login(ip, 'alice', password)).toBe(200);
    expect(await login(ip, 'alice', 'guess')).toBe(503);
    expect(await login(ip, 'alice', password)).toBe(503);
  });
  expect(await login(ip, 'alice', password)).toBe(200);
  await outage(async () => {
    expect(await login(ip, 'alice', password)).toBe(200);
  });
});

test('fail_open: passwords are checked without the limits, so the cache answers everyone', async () => {
  onStoreError = 'fail_open';
  try {
    await outage(async () => {
      expect(await login('192.0.2.10', 'alice', 'guess')).toBe(401);
      expect(await login('192.0.2.10', 'alice', password)).toBe(200);
    });
  } finally {
    onStoreError = 'fail_closed';
  }
});
