import { describe, expect, test } from 'vitest';
import { authenticate } from '../../src/authn/chain.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import type { Authenticator, Credentials } from '../../src/authn/types.js';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import { BackendUnavailableError, UnauthorizedError, WithheldDenialError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { createMetrics, type Metrics } from '../../src/pipeline/metrics.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type LockoutStore } from '../../src/store/types.js';
import { LOCKOUT_POLICY as POLICY, roundStore } from '../helpers/lockout.js';

// Found by a review. While a later backend is down, a known name's wrong password and a made-up
// name both get 503 after the same chain work (docs/security.md "User enumeration"). The lockout
// counts only the known name's refusal (WithheldDenialError), and counting is store work done
// before the reply: a lock read and `failure`, two round trips to a shared store (Redis), which
// the made-up name's outage did not make. So the first attempt answered later for a name that
// exists. A plain outage now asks the store as often, without counting.

const outage = () => new BackendUnavailableError('ext_auth', 'command failed (exit 3)');

/** How many store round trips one first attempt waits for, and what it is answered with. */
async function timed(account: string, ip: string, err: Error): Promise<{ rounds: number; code: unknown }> {
  const { store, rounds } = roundStore();
  const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
  const attempt = withLockout(lockout, { account, password: new Secret('guess'), ip }, () =>
    Promise.reject(err),
  );
  const [taken, code] = await Promise.all([
    rounds(attempt),
    attempt.then(
      () => 'granted',
      (e: unknown) => (e as { code?: unknown }).code,
    ),
  ]);
  return { rounds: taken, code };
}

test('a first attempt during a later backend outage takes as long for a known name as for a made-up one', async () => {
  // alice is a static user whose wrong password the chain answered as ext_auth's outage;
  // regauth-nobody-x is made up, and met that outage itself. Same chain time (the run is instant).
  const known = await timed(
    'alice',
    '192.0.2.7',
    new WithheldDenialError(outage(), { authenticator: 'users', reason: 'invalid password' }),
  );
  const madeUp = await timed('nobody-x', '192.0.2.7', outage());
  // Same answer (503 either way)...
  expect(known.code).toBe('ERR_BACKEND_UNAVAILABLE');
  expect(madeUp.code).toBe('ERR_BACKEND_UNAVAILABLE');
  // ...and the same time: the known name must not take the store's extra round trips.
  expect(known.rounds).toBe(madeUp.rounds);
});

// Found by a later review. A directory whose filter has a mail term
// (`(|(uid=${account})(mail=${account}))`) names the account it holds (`alice`) when a login typed
// another spelling (`alice@example.org`) is refused, and the lockout counts the failure under both
// names. That took three round trips to a shared store (a lock read of `alice`, `failure` of
// `alice`, `failure` of the typed name) where a made-up spelling (`nobody@example.org`, which no
// backend knows, so none names an account) costs two: the first wrong password for a real mail
// address answered one round trip later than one for a made-up address.
describe('a spelling the backend names otherwise (a directory alias)', () => {
  test('a wrong password for a real mail address takes as long as one for a made-up address', async () => {
    const known = await timed(
      'alice@example.org',
      '192.0.2.7',
      new UnauthorizedError(undefined, {
        authenticator: 'ldap_auth',
        reason: 'invalid credentials',
        account: 'alice',
      }),
    );
    const madeUp = await timed(
      'nobody@example.org',
      '192.0.2.7',
      new UnauthorizedError(undefined, { authenticator: null, reason: 'unknown account' }),
    );
    expect(known.code).toBe('ERR_UNAUTHORIZED');
    expect(madeUp.code).toBe('ERR_UNAUTHORIZED');
    expect(known.rounds).toBe(madeUp.rounds);
  });

  test('during a later outage, a real mail address takes as long as a made-up one', async () => {
    const known = await timed(
      'alice@example.org',
      '192.0.2.7',
      new WithheldDenialError(outage(), {
        authenticator: 'ldap_auth',
        reason: 'invalid credentials',
        account: 'alice',
      }),
    );
    const madeUp = await timed('nobody@example.org', '192.0.2.7', outage());
    expect(known.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(madeUp.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(known.rounds).toBe(madeUp.rounds);
  });
});

// Found by a review of the change above. With the store cut while a wrong password is checked
// (Redis paused, a network cut, after the reservation went through), a made-up address's refusal
// asked the store once more (the lock read) where a real alias also sent the typed name's
// `failure` alongside it (under fail_open, a `failure` for each name): the operations that failed
// show in regauth_store_errors_total, so one scrape of /metrics told the two apart. Once the store
// fails an attempt's lock read, nothing more is counted for it.
describe('a store that stops answering while a wrong password is checked', () => {
  /** A shared store that fails every operation once cut, counted as RedisStore counts them. */
  function flakyStore(metrics: Metrics): { store: LockoutStore; cut(): void } {
    const inner = new MemoryLockoutStore(100);
    let down = false;
    const op =
      <A extends unknown[], R>(name: string, f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        await new Promise((r) => setTimeout(r, 5));
        if (down) {
          metrics.storeErrors.inc({ operation: name });
          throw new StoreUnavailableError(`${name}: no answer within 5 ms`);
        }
        return f(...a);
      };
    return {
      store: {
        size: undefined,
        blocked: op('blocked', inner.blocked.bind(inner)),
        reserve: op('reserve', inner.reserve.bind(inner)),
        release: op('release', inner.release.bind(inner)),
        failure: op('failure', inner.failure.bind(inner)),
        success: op('success', inner.success.bind(inner)),
        lockNews: () => undefined,
      },
      cut: () => void (down = true),
    };
  }

  /** regauth_store_errors_total by operation after one refused login, the store cut meanwhile. */
  async function storeErrorsOf(
    account: string,
    stored: string | undefined,
    onStoreError: 'fail_closed' | 'fail_open',
  ): Promise<{ code: unknown; errors: Record<string, number> }> {
    const metrics = createMetrics();
    const { store, cut } = flakyStore(metrics);
    const lockout = new Lockout({
      store,
      shared: true,
      policy: () => POLICY,
      onStoreError: () => onStoreError,
    });
    let code: unknown;
    try {
      await withLockout(lockout, { account, password: new Secret('guess'), ip: '192.0.2.7' }, async () => {
        cut();
        throw new UnauthorizedError(undefined, {
          authenticator: stored === undefined ? null : 'ldap_auth',
          reason: stored === undefined ? 'unknown account' : 'invalid credentials',
          ...(stored !== undefined ? { account: stored } : {}),
        });
      });
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    // Whatever was sent meanwhile fails and is counted too.
    await new Promise((r) => setTimeout(r, 50));
    const { values } = await metrics.storeErrors.get();
    return { code, errors: Object.fromEntries(values.map((v) => [String(v.labels.operation), v.value])) };
  }

  test.each([
    ['fail_closed', 'ERR_STORE_UNAVAILABLE'],
    ['fail_open', 'ERR_UNAUTHORIZED'],
  ] as const)(
    '%s: a real mail address and a made-up one fail the same store operations',
    async (policy, code) => {
      const known = await storeErrorsOf('alice@example.org', 'alice', policy);
      const madeUp = await storeErrorsOf('nobody@example.org', undefined, policy);
      expect(known.code).toBe(code);
      expect(madeUp.code).toBe(code);
      expect(known.errors).toEqual(madeUp.errors);
    },
  );

  // Found by a review: the chain reads the stored spelling's lock itself (Credentials.heldBack)
  // before it spends the dummy comparison, so under fail_closed a store cut after the reservation
  // failed a right password under an alias inside the chain, without the comparison (nor the
  // later backends' decoys), while a wrong one failed after it: 75 ms sooner at cost 10.
  test('fail_closed: a right password under an alias spends the comparison a wrong one does', async () => {
    const directory: Authenticator = {
      name: 'ldap_auth',
      async authenticate({ account, password }: Credentials) {
        if (account !== 'alice@example.org' && account !== 'alice') return { outcome: 'no_match' };
        return password?.reveal() === 'dir-pw'
          ? { outcome: 'authenticated', labels: {}, account: 'alice' }
          : { outcome: 'denied', reason: 'invalid credentials', account: 'alice' };
      },
    };
    const login = async (password: string): Promise<{ code: unknown; burns: number }> => {
      let burns = 0;
      const verifier: PasswordVerifier = { verify: async () => false, burn: async () => void burns++ };
      const { store, cut } = flakyStore(createMetrics());
      const lockout = new Lockout({
        store,
        shared: true,
        policy: () => POLICY,
        onStoreError: () => 'fail_closed',
      });
      const account = 'alice@example.org';
      const secret = new Secret(password);
      const code = await withLockout(
        lockout,
        { account, password: secret, ip: '192.0.2.7' },
        async (heldBack) => {
          cut();
          const result = await authenticate(
            [directory],
            { account, password: secret, ...(heldBack ? { heldBack } : {}) },
            verifier,
          );
          if (result.outcome === 'denied') {
            throw new UnauthorizedError(undefined, {
              authenticator: result.by,
              reason: result.reason,
              ...(result.account !== undefined ? { account: result.account } : {}),
              ...(result.heldFor !== undefined ? { heldFor: result.heldFor } : {}),
            });
          }
          return { account: result.account ?? account };
        },
      ).then(
        () => 'granted',
        (e: unknown) => (e as { code?: unknown }).code,
      );
      return { code, burns };
    };
    const wrong = await login('not-the-password');
    const right = await login('dir-pw');
    expect([wrong.code, right.code]).toEqual(['ERR_STORE_UNAVAILABLE', 'ERR_STORE_UNAVAILABLE']);
    expect(wrong.burns).toBe(1);
    expect(right.burns).toBe(wrong.burns);
  });
});
