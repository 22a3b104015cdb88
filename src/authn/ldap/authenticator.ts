import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { connect, isIP } from 'node:net';
import { Client, Filter, InvalidCredentialsError, ResultCodeError, SizeLimitExceededError } from 'ldapts';
import type { Entry, SearchOptions } from 'ldapts';
import type { Labels } from '../../authz/types.js';
import type { LdapConfig } from './config.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { Authenticator, AuthnResult, Credentials, LookupResult } from '../types.js';
import {
  bindAsUser,
  connectOnce,
  quietUnbind,
  type LdapClient,
  type LdapClientFactory,
} from './connection.js';
import { escapeDnValue } from './dn.js';
import { attributeValues, authenticated, labelValue, storedSpelling } from './entry.js';
import { ambiguous, NAME, translate } from './errors.js';
import { Semaphore } from './limit.js';

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
 * The service connection is kept and reused; it is replaced when the directory closed it or an
 * operation on it failed (so a directory restart heals on the next request). User binds use a
 * short-lived connection each, since a bind changes the identity of the whole connection.
 * At most `max_concurrency` authentications talk to the directory at once.
 */
export class LdapAuthenticator implements Authenticator {
  readonly name = NAME;
  /** Defined only with a service account: refresh tokens need a lookup without the password. */
  readonly lookup?: (account: string) => Promise<LookupResult | undefined>;

  readonly #config: LdapConfig;
  readonly #factory: LdapClientFactory;
  readonly #limit: Semaphore;
  /** A DN under `base` that names no entry: what a made-up account's bind goes to. */
  readonly #decoyDn: string;
  #service: Promise<LdapClient> | undefined;
  #closed = false;

  constructor(config: LdapConfig, factory: LdapClientFactory = (options) => new Client(options)) {
    this.#config = config;
    this.#factory = factory;
    this.#limit = new Semaphore(config.maxConcurrency);
    const rdn = `${config.accountTerms[0]?.attribute ?? 'cn'}=regauth-decoy-${randomUUID()}`;
    this.#decoyDn = config.base === '' ? rdn : `${rdn},${config.base}`;
    if (!config.initialBindAsUser) this.lookup = (account) => this.#lookup(account);
  }

  async authenticate({ account, password }: Credentials): Promise<AuthnResult> {
    // The anonymous account is never a directory account.
    if (account === '') return { outcome: 'no_match' };
    if (password === undefined || password.length === 0)
      return { outcome: 'denied', reason: 'empty password' };
    return this.#limited(() =>
      this.#config.initialBindAsUser
        ? this.#authenticateAsUser(account, password.reveal())
        : this.#authenticateWithService(account, password.reveal()),
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
        await this.#withSession(async (client) => void (await client.search('', rootDse)));
      } else {
        await this.#withService(async (client) => void (await client.search('', rootDse)));
      }
    } catch (err) {
      throw translate(err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const service = this.#service;
    this.#service = undefined;
    await service?.then(quietUnbind, () => undefined);
  }

  async #lookup(account: string): Promise<LookupResult | undefined> {
    if (account === '') return undefined;
    return this.#limited(async () => {
      const found = await this.#withService((client) => this.#findEntry(client, account));
      if (!found) return undefined;
      // Found under another spelling: say which (the refresh grant decides what that means).
      if (found.account !== account) return { labels: {}, account: found.account };
      const { entry } = found;
      const groups = await this.#withService((client) => this.#groups(client, entry.dn, account));
      return { labels: this.#labels(entry, groups) };
    });
  }

  /**
   * The work of a failed login for a made-up name (a search that finds nothing and a refused
   * bind), for a login an earlier backend denied; see Authenticator.decoy. Never throws.
   */
  async decoy({ password }: Credentials): Promise<void> {
    if (password === undefined || password.length === 0) return;
    const name = `regauth-decoy-${randomUUID()}`;
    await this.#limited(() =>
      this.#config.initialBindAsUser
        ? this.#authenticateAsUser(name, password.reveal())
        : this.#authenticateWithService(name, password.reveal()),
    ).catch(() => undefined);
  }

  async #authenticateWithService(account: string, password: string): Promise<AuthnResult> {
    const found = await this.#withService((client) => this.#findEntry(client, account));
    if (!found) {
      // A made-up name costs what a known one with a wrong password costs: the same search,
      // then a bind on a fresh connection that the directory refuses. Otherwise the missing
      // round trip would tell who exists (docs/security.md "User enumeration").
      await this.#withSession((client) => bindAsUser(client, this.#decoyDn, password)).catch(
        (err: unknown) => {
          // The directory answered (no such entry, say): that is the answer being imitated.
          if (!(err instanceof ResultCodeError)) throw err;
        },
      );
      return { outcome: 'no_match' };
    }
    const { entry } = found;
    const bound = await this.#withSession((client) => bindAsUser(client, entry.dn, password));
    if (!bound) return { outcome: 'denied', reason: 'invalid credentials', account: found.account };
    const groups = await this.#withService((client) => this.#groups(client, entry.dn, found.account));
    return authenticated(this.#labels(entry, groups), account, found.account);
  }

  /** docker_auth's initial_bind_as_user: no service account; everything runs as the user. */
  async #authenticateAsUser(account: string, password: string): Promise<AuthnResult> {
    return this.#withSession(async (client): Promise<AuthnResult> => {
      // (A function, so `$'` and friends in an account are text, not replacement patterns.)
      const bindDn = this.#config.bindDn!.replaceAll('${account}', () => escapeDnValue(account));
      if (!(await bindAsUser(client, bindDn, password))) {
        return { outcome: 'denied', reason: 'invalid credentials' };
      }
      const found = await this.#findEntry(client, account);
      if (!found) return { outcome: 'no_match' };
      const { entry } = found;
      // The initial bind proved a DN built from the account; this one proves the entry found.
      if (!(await bindAsUser(client, entry.dn, password))) {
        return { outcome: 'denied', reason: 'invalid credentials', account: found.account };
      }
      const groups = await this.#groups(client, entry.dn, found.account);
      return authenticated(this.#labels(entry, groups), account, found.account);
    });
  }

  /**
   * The account's entry and the account as the entry spells it, or undefined when there is none.
   * Directories compare account attributes without regard to case and extra spaces, so `ALICE`
   * finds alice's entry: the stored spelling (from the filter's account terms) then names the
   * account everywhere, so that one entry is one account. More than one entry is a misconfiguration.
   */
  async #findEntry(
    client: LdapClient,
    account: string,
  ): Promise<{ readonly entry: Entry; readonly account: string } | undefined> {
    const attributes = [
      ...new Set([
        ...[...this.#config.labels.values()].map((s) => s.attribute),
        ...this.#config.accountTerms.map((t) => t.attribute),
      ]),
    ];
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await client.search(this.#config.base, {
        scope: 'sub',
        filter: this.#config.filter.replaceAll('${account}', () => Filter.escape(account)),
        attributes,
        sizeLimit: 2,
        timeLimit: Math.ceil(this.#config.operationTimeoutMs / 1000),
      }));
    } catch (err) {
      // sizeLimit 2 with three or more matches ends in "size limit exceeded".
      if (err instanceof SizeLimitExceededError) throw ambiguous(err);
      throw err;
    }
    if (entries.length > 1) throw ambiguous();
    const entry = entries[0];
    if (!entry) return undefined;
    const stored = storedSpelling(this.#config.accountTerms, entry, account);
    // No term holds the account even loosely (a matching rule we do not mirror): not this account.
    return stored === undefined ? undefined : { entry, account: stored };
  }

  /** Values of the group search's attribute, or [] without a group search. */
  async #groups(client: LdapClient, dn: string, account: string): Promise<string[]> {
    const gs = this.#config.groupSearch;
    if (!gs) return [];
    const filter = gs.filter
      .replaceAll('${dn}', () => Filter.escape(dn))
      .replaceAll('${account}', () => Filter.escape(account));
    const { searchEntries } = await client.search(gs.base, {
      scope: 'sub',
      filter,
      attributes: [gs.attribute],
      timeLimit: Math.ceil(this.#config.operationTimeoutMs / 1000),
    });
    return searchEntries.flatMap((e) => attributeValues(e, gs.attribute).map((v) => labelValue(v, gs)));
  }

  #labels(entry: Entry, groups: string[]): Labels {
    const labels: Record<string, string[]> = {};
    const add = (name: string, values: string[]) => {
      const merged = new Set([...(labels[name] ?? []), ...values.filter((v) => v !== '')]);
      labels[name] = [...merged];
    };
    for (const [name, source] of this.#config.labels) {
      add(
        name,
        attributeValues(entry, source.attribute).map((v) => labelValue(v, source)),
      );
    }
    if (this.#config.groupSearch) add(this.#config.groupSearch.label, groups);
    return labels;
  }

  /**
   * Runs one login, lookup or check: within the concurrency bound, and within a budget of twice
   * operation_timeout (10 s by default) in all, so several slow steps (queue, connect, search,
   * bind) cannot add up past docker's 15 s. Every failure leaves as BackendUnavailableError.
   */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new BackendUnavailableError(NAME, 'closed');
    const budgetMs = 2 * this.#config.operationTimeoutMs;
    const started = Date.now();
    try {
      await this.#limit.acquire(this.#config.operationTimeoutMs);
    } catch (err) {
      throw translate(err);
    }
    // The slot is held until the work really ends, even when the caller has given up on it.
    const work = fn().finally(() => this.#limit.release());
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new BackendUnavailableError(NAME, `no answer within ${budgetMs / 1000} s`)),
        budgetMs - (Date.now() - started),
      );
    });
    try {
      return await Promise.race([work, deadline]);
    } catch (err) {
      throw translate(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `fn` on the shared service connection. When a reused connection fails below the LDAP
   * level (closed, reset, timed out), it is dropped and `fn` is tried once on a fresh one: the
   * directory may have restarted since the connection was made.
   */
  async #withService<T>(fn: (client: LdapClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { client, fresh } = await this.#serviceClient();
      try {
        return await fn(client);
      } catch (err) {
        // The directory answered (an LDAP result, or an answer we refuse): the connection is fine.
        if (err instanceof ResultCodeError || err instanceof BackendUnavailableError) throw err;
        this.#dropService(client);
        if (fresh || attempt > 0) throw err;
      }
    }
  }

  async #serviceClient(): Promise<{ client: LdapClient; fresh: boolean }> {
    const current = this.#service;
    if (current) {
      const client = await current.catch(() => undefined);
      if (client && this.#usable(client)) return { client, fresh: false };
      if (this.#service === current) this.#service = undefined;
      if (client) void quietUnbind(client);
    }
    // Concurrent requests share one connection attempt.
    const opening = this.#service ?? this.#openService();
    this.#service = opening;
    try {
      return { client: await opening, fresh: true };
    } catch (err) {
      if (this.#service === opening) this.#service = undefined;
      throw err;
    }
  }

  async #openService(): Promise<LdapClient> {
    const client = await this.#open();
    try {
      if (this.#config.bindDn !== undefined) {
        await client.bind(this.#config.bindDn, this.#config.bindPassword!.reveal());
      }
      return client;
    } catch (err) {
      void quietUnbind(client);
      // A rejected service bind is the operator's problem, not the user's: never "denied".
      if (err instanceof InvalidCredentialsError) {
        throw new BackendUnavailableError(
          NAME,
          'the service bind (bind_dn) was rejected: invalid credentials',
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  /**
   * Whether a kept service connection can be reused. A connection that needs session state (a
   * bind, StartTLS) is replaced once the directory has closed it: ldapts would reconnect it
   * transparently, but unbound and, with StartTLS, in clear text.
   */
  #usable(client: LdapClient): boolean {
    const needsSession = this.#config.bindDn !== undefined || this.#config.tls === 'starttls';
    if (!needsSession) return true;
    return client.isConnected && (this.#config.bindDn === undefined || client.isBound);
  }

  #dropService(client: LdapClient): void {
    // The second callback matters: a rejected promise left unhandled would end the process.
    void this.#service?.then(
      (current) => {
        if (current === client) this.#service = undefined;
      },
      () => undefined,
    );
    void quietUnbind(client);
  }

  /** A fresh connection for one user's binds, always closed afterwards. */
  async #withSession<T>(fn: (client: LdapClient) => Promise<T>): Promise<T> {
    const client = await this.#open();
    try {
      return await fn(client);
    } finally {
      void quietUnbind(client);
    }
  }

  /** A new client; with StartTLS, upgraded before anything else is sent. */
  async #open(): Promise<LdapClient> {
    const c = this.#config;
    const scheme = c.tls === 'always' ? 'ldaps' : 'ldap';
    const host = isIP(c.host) === 6 ? `[${c.host}]` : c.host;
    const tlsOptions: ConnectionOptions = {
      rejectUnauthorized: !c.insecureSkipVerify,
      ...(c.caPem !== undefined ? { ca: c.caPem } : {}),
      // SNI is for names only; Node warns when it is given an IP address.
      ...(isIP(c.host) === 0 ? { servername: c.host } : {}),
    };
    const client = this.#factory({
      url: `${scheme}://${host}:${c.port}`,
      connectTimeout: c.connectTimeoutMs,
      timeout: c.operationTimeoutMs,
      ...(c.tls === 'always' ? { tlsOptions } : {}),
      ...(c.tls === 'starttls' ? { createConnection: connectOnce(connect) } : {}),
    });
    if (c.tls === 'starttls') {
      try {
        await client.startTLS(tlsOptions);
      } catch (err) {
        void quietUnbind(client);
        throw err;
      }
    }
    return client;
  }
}
