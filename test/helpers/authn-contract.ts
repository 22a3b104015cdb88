import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { authenticate } from '../../src/authn/chain.js';
import { bcryptVerifier, type PasswordVerifier } from '../../src/authn/password.js';
import type { Authenticator, AuthnResult } from '../../src/authn/types.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';

/** One account and its password, as a client sends them. */
export interface Login {
  readonly account: string;
  readonly password: string;
}

/** A backend set up for the contract, with what it holds. */
export interface ContractSubject {
  readonly authenticator: Authenticator;
  /** An account the backend authenticates, and its password. */
  readonly known: Login;
  /** A wrong password for `known.account` that is still this backend's to judge (not another kind of credential). */
  readonly wrongPassword: string;
  /** An account the backend does not hold, with a password of the kind it judges. */
  readonly unknown: Login;
  /**
   * What the backend documents for an account it does not hold: `no_match` when it knows its
   * accounts (the next backend is asked), `denied` when it cannot tell who exists (a credential
   * that carries its own account: app passwords, CI tokens).
   */
  readonly unknownAnswer: 'no_match' | 'denied';
  /**
   * A backend of the same kind that cannot answer (directory down, command failing, keys
   * unreachable), asked with `known`. Absent for backends that always can (static users).
   */
  readonly unavailable?: () => Authenticator | Promise<Authenticator>;
  /** Further passwords of the kind it judges that must not authenticate `known.account` (forgeries, expired ones). */
  readonly oddPasswords?: readonly string[];
  /**
   * The backend's own costly operations so far, other than password comparisons (directory binds
   * and searches); absent when it has none.
   */
  readonly work?: () => number;
  /** Releases what the subject holds. */
  readonly close?: () => Promise<void>;
}

/**
 * A verifier that counts what it spends: every comparison (`verify`) and every dummy one (`burn`).
 * Subjects that check password hashes use it, so the contract sees their comparisons too.
 */
export interface CountingVerifier extends PasswordVerifier {
  readonly spent: () => number;
}

export function countingVerifier(inner: PasswordVerifier): CountingVerifier {
  let spent = 0;
  return {
    spent: () => spent,
    verify: (password, hash) => {
      spent += 1;
      return inner.verify(password, hash);
    },
    burn: (password) => {
      spent += 1;
      return inner.burn(password);
    },
  };
}

const login = (authenticator: Authenticator, account: string, password: string | undefined) =>
  authenticator.authenticate({
    account,
    password: password === undefined ? undefined : new Secret(password),
  });

/** Resolves to the answer, or to the error, so that a test can say which errors are allowed. */
async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/**
 * Odd credentials a client can send (account names pass the request parser's check): none may
 * authenticate, and none may make the backend throw anything but BackendUnavailableError.
 */
function oddCredentials(subject: ContractSubject): [string, string | undefined][] {
  const { known } = subject;
  const accounts = [known.account, 'x'.repeat(256), '*', 'a)(uid=*', 'a\\2a', 'ü∂ℌ', '..', '#', ',ou=x'];
  const passwords = [
    undefined,
    '',
    ' ',
    '\0',
    '*',
    'x'.repeat(4096),
    'rga_',
    'rga_a.b.c',
    'a.b.c',
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    subject.wrongPassword,
    subject.unknown.password,
    ...(subject.oddPasswords ?? []),
  ];
  return accounts.flatMap((account) =>
    passwords.map((password): [string, string | undefined] => [account, password]),
  );
}

/**
 * The contract every authenticator keeps (src/authn/types.ts), run against one backend:
 *
 * - no credentials (the anonymous request) → `no_match`: only `users: {"": {}}` may admit it;
 * - its account with its password → `authenticated`; with a wrong password → `denied`, naming
 *   no account other than the one asked for;
 * - an account it does not hold → the answer it documents (`no_match`, or `denied` without
 *   `account`: saying which accounts exist would defeat docs/security.md "User enumeration");
 * - the only error it throws is BackendUnavailableError, whatever the credentials;
 * - `lookup` agrees with `authenticate`: the account that authenticates is found, with the same
 *   fingerprint, spelling and (when given) labels; an account it answers `no_match` for is not;
 * - timing class: in the chain, a failed login for an account it does not hold does the same work
 *   as a wrong password for one it holds (password comparisons, directory operations), counted
 *   rather than timed (test/e2e/enumeration.test.ts times it against the real peers).
 *
 * `factory` gets the verifier to check password hashes with, when the backend has any.
 */
export function describeAuthenticatorContract(
  name: string,
  factory: (verifier: PasswordVerifier) => ContractSubject | Promise<ContractSubject>,
  makeVerifier: () => PasswordVerifier = () => bcryptVerifier(4),
): void {
  describe(`authenticator contract: ${name}`, () => {
    let subject: ContractSubject;
    let verifier: CountingVerifier;
    beforeEach(async () => {
      verifier = countingVerifier(makeVerifier());
      subject = await factory(verifier);
    });
    afterEach(async () => {
      await subject.close?.();
      await subject.authenticator.close?.();
    });

    test('a request without credentials is no match', async () => {
      expect(await subject.authenticator.authenticate({ account: '', password: undefined })).toEqual({
        outcome: 'no_match',
      });
    });

    test('its account with its password is authenticated', async () => {
      const { known } = subject;
      const result = await login(subject.authenticator, known.account, known.password);
      expect(result.outcome).toBe('authenticated');
    });

    test('a wrong password is denied, naming at most the account asked for', async () => {
      const { known } = subject;
      const result = await login(subject.authenticator, known.account, subject.wrongPassword);
      expect(result.outcome).toBe('denied');
      if (result.outcome === 'denied' && result.account !== undefined) {
        expect(result.account).toBe(known.account);
      }
    });

    test('an account it does not hold gets the answer it documents', async () => {
      const { unknown } = subject;
      const result = await login(subject.authenticator, unknown.account, unknown.password);
      expect(result.outcome).toBe(subject.unknownAnswer);
      // A denial for an account that does not exist must not claim that it does.
      expect(result.outcome === 'denied' ? result.account : undefined).toBeUndefined();
    });

    test('timing class: in the chain, a made-up account costs what a wrong password costs', async () => {
      const { known, unknown } = subject;
      const cost = async (account: string, password: string) => {
        const [spent, work] = [verifier.spent(), subject.work?.() ?? 0];
        const result = await authenticate(
          [subject.authenticator],
          { account, password: new Secret(password) },
          verifier,
        );
        expect(result.outcome).toBe('denied');
        return { comparisons: verifier.spent() - spent, work: (subject.work?.() ?? 0) - work };
      };
      // Once first: opening a connection the backend keeps (the directory's service bind) is not per login.
      await cost(known.account, subject.wrongPassword);
      const wrong = await cost(known.account, subject.wrongPassword);
      const madeUp = await cost(unknown.account, unknown.password);
      expect(madeUp).toEqual(wrong);
      // One comparison evens a refusal out; a credential the backend claims (a CI token) goes to
      // it alone whatever the name, so its refusal needs none, and spends none.
      const claimed = subject.authenticator.claims?.({
        account: known.account,
        password: new Secret(subject.wrongPassword),
      });
      expect(wrong.comparisons).toBe(claimed === true ? 0 : 1);
    });

    test('odd credentials never authenticate, and throw nothing but BackendUnavailableError', async () => {
      const seen: string[] = [];
      for (const [account, password] of oddCredentials(subject)) {
        const settled = await settle(login(subject.authenticator, account, password));
        if ('error' in settled) {
          expect(settled.error, `${JSON.stringify(account)} threw`).toBeInstanceOf(BackendUnavailableError);
          seen.push('error');
        } else {
          expect(settled.value.outcome, `${JSON.stringify(account)} authenticated`).not.toBe('authenticated');
          seen.push(settled.value.outcome);
        }
      }
      // The backend answered at all (a suite whose every call threw would prove nothing).
      expect(seen.filter((s) => s !== 'error').length).toBeGreaterThan(0);
    });

    test('a backend that cannot answer throws BackendUnavailableError, from lookup too', async () => {
      if (!subject.unavailable) {
        // Only a backend with nothing outside the process to lose may have no way to fail, and
        // then it has no readiness probe either.
        expect(subject.authenticator.check).toBeUndefined();
        return;
      }
      const down = await subject.unavailable();
      try {
        const { known } = subject;
        await expect(login(down, known.account, known.password)).rejects.toBeInstanceOf(
          BackendUnavailableError,
        );
        if (down.lookup) {
          await expect(down.lookup(known.account)).rejects.toBeInstanceOf(BackendUnavailableError);
        }
      } finally {
        await down.close?.();
      }
    });

    test('lookup agrees with authenticate', async () => {
      const { authenticator, known, unknown } = subject;
      if (!authenticator.lookup) {
        // No lookup: nothing can back a refresh token, and nothing may claim to.
        expect(authenticator.labelsInRefreshToken).not.toBe(true);
        return;
      }
      const result = (await login(authenticator, known.account, known.password)) as Extract<
        AuthnResult,
        { outcome: 'authenticated' }
      >;
      expect(result.outcome).toBe('authenticated');
      const found = await authenticator.lookup(known.account);
      expect(found).toBeDefined();
      expect(found?.fingerprint).toBe(result.fingerprint);
      expect(found?.account ?? known.account).toBe(result.account ?? known.account);
      if (found?.labels !== undefined) expect(found.labels).toEqual(result.labels);
      if (subject.unknownAnswer === 'no_match') {
        expect(await authenticator.lookup(unknown.account)).toBeUndefined();
        expect(await authenticator.lookup('')).toBeUndefined();
      }
    });
  });
}
