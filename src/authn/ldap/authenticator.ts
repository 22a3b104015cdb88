import { randomUUID } from 'node:crypto';
import { Filter, SizeLimitExceededError } from 'ldapts';
import type { Entry, SearchOptions } from 'ldapts';
import type { LdapConfig } from './config.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { Authenticator, AuthnResult, Credentials, LookupResult } from '../types.js';
import { foldsOtherwise } from '../../core/account-name.js';
import {
  bindAsUser,
  LdapConnections,
  refusedForThisDn,
  type LdapClient,
  type LdapClientFactory,
} from './connection.js';
import { escapeDnValue } from './dn.js';
import { attributeValues, authenticated, entryLabels, labelValue, storedSpelling } from './entry.js';
import { ambiguous, NAME, tooManyGroups, translate } from './errors.js';
import { Limiter } from './limit.js';

/** Why a login under an alias is refused before its bind: the stored account is held back. */
const HELD_BACK_BEFORE_BIND = 'the account is held back for this client (lockout); no bind was made';

/**
 * `ldap_auth`: docker_auth's flow. A service bind (or a bind as the user when
 * `initial_bind_as_user`), a search for exactly one entry with the escaped account in the
 * filter, a bind as that entry with the given password, then labels from the entry's attributes
 * and, optionally, from a group search.
 *
 * Outcomes: account not in the directory → no_match (the next backend is asked); empty password
 * → denied before any bind (an empty-password simple bind is an unauthenticated bind, which
 * directories accept); invalid credentials (result 49) → denied; anything else, including a
 * filter that matches several entries (a misconfiguration an account name cannot cause, since
 * it is escaped) → BackendUnavailableError, so the request fails closed with 503.
 *
 * Connections (the reused service connection, a fresh one for each user's binds) are
 * LdapConnections' job (connection.ts); at most `max_concurrency` authentications talk to the
 * directory at once, within a deadline (Limiter, limit.ts).
 */
export class LdapAuthenticator implements Authenticator {
  readonly name = NAME;
  /** Defined only with a service account: refresh tokens need a lookup without the password. */
  readonly lookup?: (account: string) => Promise<LookupResult | undefined>;

  readonly #config: LdapConfig;
  readonly #connections: LdapConnections;
  readonly #limit: Limiter;
  /** A made-up account, and a DN under `base` that names no entry: what its bind goes to. */
  readonly #decoyAccount = `regauth-decoy-${randomUUID()}`;
  readonly #decoyDn: string;
  /** The attributes the labels come from (`labels:`), read only once the password is proved. */
  readonly #labelAttributes: string[];
  #closed = false;
  /**
   * Lookups of each account: the one in flight, and the one queued behind it that lookups asked
   * for meanwhile share. A refresh token sent many times at once (refresh grants do not enter the
   * login queue) takes one `max_concurrency` slot, not every slot password logins need, and each
   * caller gets an answer the directory gave after it asked. Nothing outlives the lookups.
   */
  readonly #lookups = new Map<string, AccountLookups>();

  constructor(config: LdapConfig, factory?: LdapClientFactory) {
    this.#config = config;
    this.#connections = new LdapConnections(config, factory);
    this.#limit = new Limiter(config.maxConcurrency, config.operationTimeoutMs);
    const rdn = `${config.accountTerms[0]?.attribute ?? 'cn'}=${this.#decoyAccount}`;
    this.#decoyDn = config.base === '' ? rdn : `${rdn},${config.base}`;
    this.#labelAttributes = [...config.labels.values()].map((s) => s.attribute);
    if (!config.initialBindAsUser) this.lookup = (account) => this.#sharedLookup(account);
  }

  async authenticate({ account, password, heldBack }: Credentials): Promise<AuthnResult> {
    // The anonymous account is never a directory account.
    if (account === '') return { outcome: 'no_match' };
    if (password === undefined || password.length === 0)
      return { outcome: 'denied', reason: 'empty password' };
    return this.#limited(() =>
      this.#config.initialBindAsUser
        ? this.#authenticateAsUser(account, password.reveal())
        : this.#authenticateWithService(account, password.reveal(), heldBack),
    );
  }

  /**
   * Readiness: the service connection is bound (or, without one, the directory answers).
   * Outside the `max_concurrency` bound, so a probe never waits behind logins; the caller
   * (src/pipeline/health.ts) bounds its time.
   */
  async check(): Promise<void> {
    if (this.#closed) throw new BackendUnavailableError(NAME, 'closed');
    const rootDse: SearchOptions = { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] };
    try {
      if (this.#config.initialBindAsUser) {
        await this.#connections.withSession(async (client) => void (await client.search('', rootDse)));
      } else {
        await this.#connections.withService(async (client) => void (await client.search('', rootDse)));
      }
    } catch (err) {
      throw translate(err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#connections.close();
  }

  #sharedLookup(account: string): Promise<LookupResult | undefined> {
    const lookups = this.#lookups.get(account);
    if (!lookups) return this.#startLookup(account);
    // Each caller within the budget of a directory operation from when it asked (limit.ts), the
    // wait for the lookup ahead included; the queued lookup within that of the last to ask.
    const asked = Date.now();
    lookups.lastAsked = asked;
    lookups.next ??= lookups.running.then(() => this.#startLookup(account, lookups.lastAsked));
    return this.#limit.within(lookups.next, asked);
  }

  #startLookup(account: string, asked?: number): Promise<LookupResult | undefined> {
    const lookup = this.#lookup(account, asked);
    const lookups: AccountLookups = { running: lookup.then(NOTHING, NOTHING) };
    this.#lookups.set(account, lookups);
    void lookups.running.then(() => {
      if (this.#lookups.get(account) === lookups && lookups.next === undefined) this.#lookups.delete(account);
    });
    return lookup;
  }

  async #lookup(account: string, asked?: number): Promise<LookupResult | undefined> {
    if (account === '') return undefined;
    return this.#limited(async () => {
      const found = await this.#connections.withService((client) => this.#findEntry(client, account, true));
      if (!found) return undefined;
      // Found under another spelling: say which (the refresh grant decides what that means).
      if (found.account !== account) return { labels: {}, account: found.account };
      const { entry } = found;
      const groups = await this.#connections.withService((client) => this.#groups(client, entry.dn, account));
      return { labels: entryLabels(this.#config, entry, groups) };
    }, asked);
  }

  /**
   * The work of a failed login for a made-up name (a search that finds nothing and a refused
   * bind), for a login an earlier backend denied; see Authenticator.decoy. Never throws: the
   * directory's outage, which a made-up name would have met, is given back.
   */
  async decoy({ password }: Credentials): Promise<BackendUnavailableError | undefined> {
    if (password === undefined || password.length === 0) return undefined;
    const name = `regauth-decoy-${randomUUID()}`;
    try {
      await this.#limited(() =>
        this.#config.initialBindAsUser
          ? this.#authenticateAsUser(name, password.reveal())
          : this.#authenticateWithService(name, password.reveal()),
      );
      return undefined;
    } catch (err) {
      return err instanceof BackendUnavailableError ? err : undefined;
    }
  }

  async #authenticateWithService(
    account: string,
    password: string,
    heldBack?: (stored: string) => Promise<number>,
  ): Promise<AuthnResult> {
    const found = await this.#connections.withService((client) => this.#findEntry(client, account));
    // A made-up name costs what a known one with a wrong password costs: the same search,
    // then a bind on a fresh connection that the directory refuses. Otherwise the missing
    // round trip would tell who exists (docs/security.md "User enumeration").
    // The directory's refusal (no such entry, say) is the answer imitated; a busy or
    // unavailable directory is an outage, as for a known name.
    const decoy = async () => {
      await this.#connections.withSession((client) => bindAsUser(client, this.#decoyDn, password));
      await this.#decoyReads();
    };
    if (!found) {
      await decoy();
      return { outcome: 'no_match' };
    }
    const { entry } = found;
    // An entry found under another spelling (an alias: the filter's mail term) has its lock and
    // account cap under the stored account, which the lockout reserved nothing against: read
    // before the bind, so a client held back from it gets no bind of its entry (the directory's
    // own lockout never counts those guesses), only the decoy's, as a made-up name does.
    let heldFor: number | undefined;
    if (heldBack && foldsOtherwise(account, found.account)) {
      try {
        heldFor = await heldBack(found.account);
      } catch (err) {
        await decoy();
        throw err;
      }
      if (heldFor > 0) {
        await decoy();
        return { outcome: 'denied', reason: HELD_BACK_BEFORE_BIND, account: found.account, heldFor };
      }
    }
    const refused = await this.#connections.withSession((client) => bindAsUser(client, entry.dn, password));
    if (refused !== undefined) {
      await this.#decoyReads();
      return {
        outcome: 'denied',
        reason: refused,
        account: found.account,
        ...(heldFor !== undefined ? { heldFor } : {}),
      };
    }
    const [labelled, groups] = await this.#connections.withService(
      async (client) =>
        [
          await this.#labelled(client, entry, account),
          await this.#groups(client, entry.dn, found.account),
        ] as const,
    );
    return authenticated(entryLabels(this.#config, labelled, groups), account, found.account);
  }

  /** docker_auth's initial_bind_as_user: no service account; everything runs as the user. */
  async #authenticateAsUser(account: string, password: string): Promise<AuthnResult> {
    return this.#connections.withSession(async (client): Promise<AuthnResult> => {
      // (A function, so `$'` and friends in an account are text, not replacement patterns.)
      const bindDn = this.#config.bindDn!.replaceAll('${account}', () => escapeDnValue(account));
      const refused = await bindAsUser(client, bindDn, password);
      if (refused !== undefined) return { outcome: 'denied', reason: refused };
      const found = await this.#findEntry(client, account, true);
      if (!found) return { outcome: 'no_match' };
      const { entry } = found;
      // The initial bind proved a DN built from the account; this one proves the entry found.
      const refusedEntry = await bindAsUser(client, entry.dn, password);
      if (refusedEntry !== undefined)
        return { outcome: 'denied', reason: refusedEntry, account: found.account };
      const groups = await this.#groups(client, entry.dn, found.account);
      return authenticated(entryLabels(this.#config, entry, groups), account, found.account);
    });
  }

  /**
   * The account's entry and the account as the entry spells it, or undefined when there is none.
   * Directories compare account attributes without regard to case and extra spaces, so `ALICE`
   * finds alice's entry: the stored spelling (from the filter's account terms) then names the
   * account everywhere, so that one entry is one account. More than one entry is a misconfiguration.
   * The label attributes are asked for only with `withLabels` (a lookup, or a search after the
   * user's bind): before the password is checked, a known entry's labels (an AD user's thousands
   * of memberOf values) would cross the wire on every wrong password, and a made-up name's search
   * brings nothing, so the time would tell who exists (docs/security.md "User enumeration").
   */
  async #findEntry(
    client: LdapClient,
    account: string,
    withLabels = false,
  ): Promise<{ readonly entry: Entry; readonly account: string } | undefined> {
    const attributes = [
      ...new Set([
        ...(withLabels ? this.#labelAttributes : []),
        ...this.#config.accountTerms.map((t) => t.attribute),
      ]),
    ];
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await client.search(this.#config.base, {
        scope: 'sub',
        filter: this.#accountFilter(account),
        attributes,
        // No sizeLimit of our own: given one, ldapts drops the directory's "size limit exceeded"
        // and returns the entries it got, so a directory that lets the service account see one
        // entry (`sizelimit 1`) would hand over the first of two matches as the only one. The
        // filter's account is escaped: only a filter written to match many can, and the
        // directory's own limit then ends the search, which is ambiguous too.
        timeLimit: Math.ceil(this.#config.operationTimeoutMs / 1000),
      }));
    } catch (err) {
      if (err instanceof SizeLimitExceededError) throw ambiguous(err);
      throw err;
    }
    if (entries.length > 1) throw ambiguous();
    const entry = entries[0];
    if (!entry) return undefined;
    const stored = storedSpelling(this.#config.accountTerms, entry);
    // No term holds the account even loosely (a matching rule we do not mirror): not this account.
    return stored === undefined ? undefined : { entry, account: stored };
  }

  /** The search filter for `account` (escaped): the entry's search, and its labels' read by DN. */
  #accountFilter(account: string): string {
    return this.#config.filter.replaceAll('${account}', () => Filter.escape(account));
  }

  /**
   * The entry with its label attributes, read by its DN once the user's bind proved the password
   * (no read without label attributes to read), with the first search's filter for `account`:
   * a directory's ACLs let the service account search with it (OpenLDAP checks a filter's
   * attributes, and `(objectClass=*)` would need search rights on objectClass). An entry that
   * cannot be read then (renamed or removed meanwhile, or out of the service account's reach)
   * fails the login: a token without labels the entry has could pass rules written against them.
   */
  async #labelled(client: LdapClient, entry: Entry, account: string): Promise<Entry> {
    if (this.#labelAttributes.length === 0) return entry;
    const labelled = (await this.#readLabels(client, entry.dn, account))[0];
    if (labelled === undefined) {
      throw new BackendUnavailableError(
        NAME,
        "the entry could not be read by its DN after its bind, so its labels are unknown; check the service account's read access to it",
      );
    }
    return labelled;
  }

  #readLabels(client: LdapClient, dn: string, account: string): Promise<Entry[]> {
    return client
      .search(dn, {
        scope: 'base',
        filter: this.#accountFilter(account),
        attributes: this.#labelAttributes,
        timeLimit: Math.ceil(this.#config.operationTimeoutMs / 1000),
      })
      .then((r) => r.searchEntries);
  }

  /**
   * The reads a login that succeeded makes (its labels, its group search), for one that did
   * not: a right password can still be refused after it (an earlier backend deciding for the
   * stored spelling), and that refusal must cost what a wrong password's does, or its time tells
   * that the password was right. The decoy's DN names no entry, and may be one the directory
   * refuses outright (its first account term unknown to it, as for the decoy's bind): such an
   * answer is the read's, not an outage.
   */
  async #decoyReads(): Promise<void> {
    if (this.#labelAttributes.length === 0 && !this.#config.groupSearch) return;
    await this.#connections.withService(async (client) => {
      if (this.#labelAttributes.length > 0) {
        await this.#readLabels(client, this.#decoyDn, this.#decoyAccount).catch((err: unknown) => {
          if (!refusedForThisDn(err)) throw err;
        });
      }
      await this.#groups(client, this.#decoyDn, this.#decoyAccount);
    });
  }

  async #groups(client: LdapClient, dn: string, account: string): Promise<string[]> {
    const gs = this.#config.groupSearch;
    if (!gs) return [];
    const filter = gs.filter
      .replaceAll('${dn}', () => Filter.escape(dn))
      .replaceAll('${account}', () => Filter.escape(account));
    let searchEntries: Entry[];
    try {
      ({ searchEntries } = await client.search(gs.base, {
        scope: 'sub',
        filter,
        attributes: [gs.attribute],
        timeLimit: Math.ceil(this.#config.operationTimeoutMs / 1000),
      }));
    } catch (err) {
      if (err instanceof SizeLimitExceededError) throw tooManyGroups(err);
      throw err;
    }
    return searchEntries.flatMap((e) => attributeValues(e, gs.attribute).map((v) => labelValue(v, gs)));
  }

  /**
   * Runs one login, lookup or check within the concurrency bound and its deadline (limit.ts).
   * Every failure leaves as BackendUnavailableError.
   */
  async #limited<T>(fn: () => Promise<T>, asked?: number): Promise<T> {
    if (this.#closed) throw new BackendUnavailableError(NAME, 'closed');
    try {
      return await this.#limit.run(fn, asked);
    } catch (err) {
      throw translate(err);
    }
  }
}

/** An account's directory lookup under way (settled either way), and the one queued behind it. */
interface AccountLookups {
  readonly running: Promise<void>;
  next?: Promise<LookupResult | undefined>;
  /** When the last lookup that shares `next` asked. */
  lastAsked?: number;
}

const NOTHING = (): void => undefined;
