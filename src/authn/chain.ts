import { foldsOtherwise, isAccountName } from '../core/account-name.js';
import { BackendUnavailableError, WithheldDenialError } from '../core/errors.js';
import type { Labels } from '../authz/types.js';
import type { PasswordVerifier } from './password.js';
import type { Authenticator, Credentials, LookupResult } from './types.js';

/** The chain's verdict, with the backend that decided (for the audit log). */
export type ChainResult =
  | {
      readonly outcome: 'authenticated';
      readonly labels: Labels;
      readonly by: string;
      /** The backend's credential fingerprint, recorded in refresh tokens. */
      readonly fingerprint?: string;
      /** The account as the backend stores it, when the login spelled it otherwise. */
      readonly account?: string;
      /** Unix seconds at which the credential expires, when it does. */
      readonly expiresAt?: number;
    }
  | {
      readonly outcome: 'denied';
      readonly reason: string;
      readonly by: string | null;
      /** The account as the denying backend holds it, when it knows the account exists. */
      readonly account?: string;
      /** Seconds that account is held back for the client, for a success refused so (heldBack). */
      readonly heldFor?: number;
    };

/**
 * Runs authenticators in their fixed order (src/pipeline/runtime.ts: users, users_file, ext_auth,
 * ldap_auth, oidc_auth, jwt_auth). The first answer other than `no_match` decides. If every
 * backend says `no_match`, the request is denied. A credential that a backend claims as its own
 * (Authenticator.claims: a CI token of a jwt_auth issuer) is given to that backend alone: no
 * other backend, decoy or respelling sees it, and its refusal spends no comparison (its answer
 * does not depend on the name).
 *
 * Every failed login with a password costs the same as seen from the network, whoever it names
 * (docs/security.md "User enumeration"): one password comparison at the highest configured
 * bcrypt cost (a static user's wrong password spends it, padded up from a cheaper hash; any
 * other failure spends a dummy one: an unknown account, an app password refused),
 * plus the directory's search and bind (LDAP does them for a made-up name too; after an
 * earlier backend denied, the chain asks the later ones for that work with `decoy`).
 *
 * A backend may answer for another spelling of the account (a directory finds `alice` for
 * `ALICE`): the backends before it are then asked again with the stored spelling, and the first
 * of them that knows it decides, exactly as if the client had typed it; if none does, the
 * answer stands, for the stored name. So an earlier backend that holds `alice` (a static
 * break-glass user) still decides for `alice`, however the name was typed.
 * A backend that throws (cannot answer) fails the whole request closed: the error propagates.
 */
export async function authenticate(
  authenticators: readonly Authenticator[],
  credentials: Credentials,
  verifier: PasswordVerifier,
): Promise<ChainResult> {
  // A credential one backend claims (a CI token of a jwt_auth issuer) goes to it alone.
  const owner = claimant(authenticators, credentials);
  let result: Answer;
  try {
    result = owner
      ? await ownAnswer(owner, credentials)
      : await respelled(
          authenticators,
          credentials,
          await firstAnswer(authenticators, credentials, verifier),
          verifier,
        );
  } catch (err) {
    // A backend that cannot answer fails the login (503) before any password was refused; a
    // known name's refused password costs a comparison before it meets the same outage
    // (WithheldDenialError, below), so this one costs one too.
    if (
      err instanceof BackendUnavailableError &&
      !(err instanceof WithheldDenialError) &&
      credentials.password !== undefined &&
      owner === undefined
    ) {
      await verifier.burn(credentials.password);
    }
    throw err;
  }
  // A refused password costs a comparison, so that no name answers faster than another; a
  // claimed credential's answer never depends on the name (no other backend is asked), and a
  // forged token, which the lockout does not slow, must not buy a comparison each.
  if (
    result.outcome === 'denied' &&
    credentials.password !== undefined &&
    !result.checkedPassword &&
    owner === undefined
  ) {
    await verifier.burn(credentials.password);
  }
  // The deciding backend keeps its success only now, as the chain's answer (Authenticator.remember).
  if (result.outcome === 'authenticated') rememberBy(authenticators, result.by, credentials);
  const { checkedPassword: _, fromCache: __, ...answer } = result;
  return answer;
}

/**
 * The chain's answer when it is known at once: the first backend's success given without asking
 * anyone (Authenticator.answerNow: the credential cache), kept as authenticate() keeps its answer
 * (Authenticator.remember). authenticate() would answer the same: the first backend decides, no
 * earlier backend is asked under a stored spelling, and the cache holds no spelling the name rule
 * refuses. Undefined whenever authenticate() has more to do: a backend claims the credential, the
 * first backend has no answer at once, or it holds the account under a spelling that folds
 * otherwise than the one typed (a directory's alias), which the lockout may hold back for the
 * client (Credentials.heldBack; src/core/account-name.ts foldsOtherwise).
 */
export function answerNow(
  authenticators: readonly Authenticator[],
  credentials: Credentials,
): ChainResult | undefined {
  const first = authenticators[0];
  if (credentials.password === undefined || first?.answerNow === undefined) return undefined;
  if (claimant(authenticators, credentials) !== undefined) return undefined;
  const result = first.answerNow(credentials);
  if (result?.outcome !== 'authenticated') return undefined;
  if (result.account !== undefined && foldsOtherwise(credentials.account, result.account)) return undefined;
  first.remember?.(credentials);
  // Written out: V8 (Node 20) gives an object made as `{ ...result, by }` a hidden class of its
  // own each time (docs/performance.md "Hidden classes on the cached path").
  return {
    outcome: 'authenticated',
    labels: result.labels,
    by: first.name,
    fingerprint: result.fingerprint,
    account: result.account,
    expiresAt: result.expiresAt,
  };
}

/** The backend that claims the credential as its own (Authenticator.claims), if one does. */
export function claimant(
  authenticators: readonly Authenticator[],
  credentials: Credentials,
): Authenticator | undefined {
  return authenticators.find((a) => a.claims?.(credentials) === true);
}

/** Why a login is refused whose stored account the lockout holds back for the client. */
const HELD_BACK = 'the account is held back for this client (lockout); the answer is withheld';

/** Why a login is refused whose backend holds the account under a name the rule refuses. */
const INVALID_STORED_NAME = 'the backend holds the account under a name the token endpoint refuses';

/** A chain answer, knowing whether a password comparison was already spent on it. */
type Answer = ChainResult & { readonly checkedPassword?: boolean; readonly fromCache?: boolean };

async function respelled(
  authenticators: readonly Authenticator[],
  credentials: Credentials,
  first: Answer,
  verifier: PasswordVerifier,
): Promise<Answer> {
  if (
    first.outcome !== 'authenticated' ||
    first.account === undefined ||
    first.account === credentials.account
  ) {
    return first;
  }
  const stored = first.account;
  // The token endpoint's rule for account names holds for the spelling a backend hands back as
  // for the one typed: a directory's `admin\u3164` found for `admin` reads as admin everywhere.
  // The answer is a refusal, and no earlier backend is asked under that name. It costs what a
  // wrong password for the same entry costs (the later backends' decoys, and the chain's dummy
  // comparison), or its speed would tell that the password was right.
  if (!isAccountName(stored)) {
    const denied = { outcome: 'denied', reason: INVALID_STORED_NAME, by: first.by, account: stored } as const;
    await decoysAfter(authenticators, denied, credentials, verifier);
    return denied;
  }
  // The lockout may hold the stored account back for this client (Credentials.heldBack): the
  // success is then refused as a wrong password for it is (the later backends' decoys, the
  // chain's dummy comparison, no backend keeping it, the failure counted), before anything keeps
  // it, so that the lockout's 429 does not tell a right password from a wrong one.
  let heldFor: number;
  try {
    heldFor = (await credentials.heldBack?.(stored)) ?? 0;
  } catch (err) {
    // The lock could not be read (the store, under `on_store_error: fail_closed`): the login
    // fails, after the work a wrong password for the account costs before it fails the same way.
    await ownWork(authenticators, first, credentials);
    await refusedWork(authenticators, first.by, stored, credentials, verifier);
    throw err;
  }
  if (heldFor > 0) {
    const denied = { outcome: 'denied', reason: HELD_BACK, by: first.by, account: stored, heldFor } as const;
    // An outage met there is what a wrong password would have met (authenticate() spends the
    // comparison for it).
    const outage = await ownWork(authenticators, first, credentials);
    if (outage !== undefined) throw outage;
    await decoysAfter(authenticators, denied, credentials, verifier);
    return denied;
  }
  const earlier = authenticators.slice(
    0,
    authenticators.findIndex((a) => a.name === first.by),
  );
  for (const authenticator of earlier) {
    const result = await authenticator.authenticate({ ...credentials, account: stored });
    if (result.outcome === 'authenticated') {
      // The chain answers with this success; the finding backend's, for the spelling typed, is
      // part of it and is kept too (the deciding backend's is kept by authenticate()).
      rememberBy(authenticators, first.by, credentials);
      return { ...result, account: stored, by: authenticator.name };
    }
    if (result.outcome === 'denied') return { ...result, by: authenticator.name };
  }
  return first;
}

/**
 * The work the backend that found `first` spends on a refused password, when the credential
 * cache answered for it (a search and a refused bind for a directory: its decoy); what it meets
 * when it cannot answer. Nothing when the backend itself answered: it has done that work.
 */
async function ownWork(
  authenticators: readonly Authenticator[],
  first: Answer,
  credentials: Credentials,
): Promise<BackendUnavailableError | undefined> {
  if (!first.fromCache || first.by === null) return undefined;
  const found = first.by;
  return authenticators.find((a) => a.name === found)?.decoy?.(credentials);
}

/**
 * What a refused password for `account` costs after the backend `by` refused it: the later
 * backends' decoys, then the dummy comparison, once (decoysAfter spends it itself when it meets
 * an outage, and throws).
 */
async function refusedWork(
  authenticators: readonly Authenticator[],
  by: string,
  account: string,
  credentials: Credentials,
  verifier: PasswordVerifier,
): Promise<void> {
  if (credentials.password === undefined) return;
  try {
    await decoysAfter(
      authenticators,
      { outcome: 'denied', reason: HELD_BACK, by, account },
      credentials,
      verifier,
    );
  } catch {
    return;
  }
  await verifier.burn(credentials.password);
}

/** The answer of the backend that claims the credential, asked alone (no decoys, no respelling). */
async function ownAnswer(owner: Authenticator, credentials: Credentials): Promise<Answer> {
  const result = await owner.authenticate(credentials);
  if (result.outcome === 'no_match') return { outcome: 'denied', reason: 'unknown account', by: null };
  return { ...result, by: owner.name };
}

/** Authenticator.remember of the backend named `name`: its success is part of the chain's answer. */
function rememberBy(authenticators: readonly Authenticator[], name: string, credentials: Credentials): void {
  authenticators.find((a) => a.name === name)?.remember?.(credentials);
}

/**
 * The work the backends after the one that gave `denied` would have done for a made-up name,
 * one after another, as a login they are asked for does: only for a password (no decoy is a
 * guess without one). A made-up name goes no further than a backend that cannot answer, and
 * gets 503: so does this denial then (WithheldDenialError, which the lockout counts as the
 * failure it is), once the comparison a refused password costs is spent.
 */
async function decoysAfter(
  authenticators: readonly Authenticator[],
  denied: Answer & { readonly outcome: 'denied'; readonly by: string },
  credentials: Credentials,
  verifier: PasswordVerifier,
): Promise<void> {
  if (credentials.password === undefined) return;
  const later = authenticators.slice(authenticators.findIndex((a) => a.name === denied.by) + 1);
  for (const authenticator of later) {
    const outage = await authenticator.decoy?.(credentials);
    if (outage === undefined) continue;
    if (!denied.checkedPassword) await verifier.burn(credentials.password);
    throw new WithheldDenialError(outage, {
      authenticator: denied.by,
      reason: denied.reason,
      ...(denied.account !== undefined ? { account: denied.account } : {}),
      ...(denied.heldFor !== undefined ? { heldFor: denied.heldFor } : {}),
    });
  }
}

async function firstAnswer(
  authenticators: readonly Authenticator[],
  credentials: Credentials,
  verifier: PasswordVerifier,
): Promise<Answer> {
  for (const authenticator of authenticators) {
    const result = await authenticator.authenticate(credentials);
    if (result.outcome === 'authenticated') return { ...result, by: authenticator.name };
    if (result.outcome === 'denied') {
      // The backends after this one would have been asked for a made-up name, one after
      // another: do their work, in the same order.
      const denied = { ...result, by: authenticator.name };
      await decoysAfter(authenticators, denied, credentials, verifier);
      return denied;
    }
  }
  return { outcome: 'denied', reason: 'unknown account', by: null };
}

/** An account the chain found without its password, with the backend that decided. */
export type ChainLookup = LookupResult & { readonly by: string };

/**
 * Finds an account without its password (for the refresh grant) by the rule logins follow: the
 * backends are asked in their fixed order and the first that finds the account decides. A
 * backend without `lookup` cannot say, and is passed over. Undefined when none finds it.
 * `through`: the name of the last backend to ask (the refresh grant needs no answer from a
 * backend after the one its token names: none of them can decide for the account before it).
 * A backend that throws (cannot answer) fails the lookup: the error propagates.
 */
export async function lookupAccount(
  authenticators: readonly Authenticator[],
  account: string,
  options: { readonly through?: string } = {},
): Promise<ChainLookup | undefined> {
  for (const authenticator of authenticators) {
    const found = await authenticator.lookup?.(account);
    if (found !== undefined) return { ...found, by: authenticator.name };
    if (authenticator.name === options.through) break;
  }
  return undefined;
}
