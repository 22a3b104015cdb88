import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { connect, isIP } from 'node:net';
import {
  Client,
  ConstraintViolationError,
  InappropriateAuthError,
  InsufficientAccessError,
  InvalidCredentialsError,
  InvalidDNSyntaxError,
  NoSuchObjectError,
  ResultCodeError,
  SASL_MECHANISMS,
  UnwillingToPerformError,
} from 'ldapts';
import type { ClientOptions } from 'ldapts';
import { BackendUnavailableError } from '../../core/errors.js';
import type { LdapConfig } from './config.js';
import { NAME } from './errors.js';

/** The part of ldapts' Client this backend uses; tests inject a fake. */
export type LdapClient = Pick<Client, 'bind' | 'search' | 'startTLS' | 'unbind' | 'isConnected' | 'isBound'>;

/** Makes one LDAP client (one connection, opened lazily by the first operation). */
export type LdapClientFactory = (options: ClientOptions) => LdapClient;

/**
 * The backend's connections to the directory. The service connection is kept and reused; it is
 * replaced when the directory closed it or an operation on it failed (so a directory restart
 * heals on the next request). User binds use a short-lived connection each (a session), since a
 * bind changes the identity of the whole connection.
 */
export class LdapConnections {
  readonly #config: LdapConfig;
  readonly #factory: LdapClientFactory;
  #service: Promise<LdapClient> | undefined;
  /** Once closed, work still under way gets a service connection of its own, closed after it. */
  #closed = false;

  constructor(config: LdapConfig, factory: LdapClientFactory = (options) => new Client(options)) {
    this.#config = config;
    this.#factory = factory;
  }

  /** Unbinds the service connection; the next operation would open a new one. */
  async close(): Promise<void> {
    this.#closed = true;
    const service = this.#service;
    this.#service = undefined;
    await service?.then(quietUnbind, () => undefined);
  }

  /**
   * Runs `fn` on the shared service connection. When a reused connection fails below the LDAP
   * level (closed, reset, timed out), it is dropped and `fn` is tried once on a fresh one: the
   * directory may have restarted since the connection was made.
   */
  async withService<T>(fn: (client: LdapClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // A login under way when the backend closed (its group search after the user's bind, a
      // retry): nothing would close a connection kept now, so this one is closed after `fn`.
      if (this.#closed) return this.#withServiceOnce(fn);
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

  async #withServiceOnce<T>(fn: (client: LdapClient) => Promise<T>): Promise<T> {
    const client = await this.#openService();
    try {
      return await fn(client);
    } finally {
      void quietUnbind(client);
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
  async withSession<T>(fn: (client: LdapClient) => Promise<T>): Promise<T> {
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
      ...(c.tls === 'starttls'
        ? {
            createConnection: connectOnce(connect),
            createSecureConnection: handshakeWithin(c.connectTimeoutMs),
          }
        : {}),
    });
    if (c.tls === 'starttls') {
      try {
        // The name to check the certificate against: ldapts hands tls.connect only the socket,
        // and node falls back to "localhost" for an IP address (it takes `_host` from a socket
        // opened to a name only), so a certificate for localhost would pass for any address.
        await client.startTLS({ ...tlsOptions, host: c.host });
      } catch (err) {
        void quietUnbind(client);
        throw err;
      }
    }
    return client;
  }
}

/**
 * Wraps a connect function so it works once. ldapts reconnects a lost connection transparently
 * on the next operation, which after StartTLS would be in clear text: a password bind would then
 * go over the wire unencrypted. With StartTLS, a lost connection must fail instead.
 */
export function connectOnce<F extends (...args: never[]) => unknown>(connectFn: F): F {
  let used = false;
  return ((...args: Parameters<F>) => {
    if (used) throw new Error('connection lost after StartTLS; not reconnecting in clear text');
    used = true;
    return connectFn(...args);
  }) as F;
}

/**
 * tls.connect with its handshake bounded by `ms`: ldapts waits for StartTLS's handshake with no
 * timer (`operation_timeout` covers the StartTLS request, `connect_timeout` the TCP connect), so
 * a directory or middlebox that stalled there held a login, the kept service connection or a
 * `max_concurrency` slot for good. The handshake is part of opening the connection, as with
 * LDAPS, where `connect_timeout` covers it.
 */
export function handshakeWithin(ms: number): typeof tlsConnect {
  return ((options: ConnectionOptions) => {
    const socket = tlsConnect(options);
    const timer = setTimeout(
      () => socket.destroy(new Error(`no TLS handshake within ${ms / 1000} s (connect_timeout)`)),
      ms,
    );
    const done = () => clearTimeout(timer);
    socket.once('secureConnect', done);
    // On 'error' ldapts' startTLS removes every listener of the socket, the 'close' one too, so
    // the timer is cleared here, by the first 'error' listener, before ldapts' runs.
    socket.once('error', done);
    socket.once('close', done);
    // A TLS socket can emit 'error' twice (a stray record after the handshake, which anyone on
    // the path can add, fails it again after its certificate check failed), and after the first
    // ldapts has removed its listeners: the second would be thrown, uncaught, and end the
    // process. The socket keeps a listener that ignores errors, whatever is removed.
    const ignore = () => undefined;
    socket.on('error', ignore);
    const removeAll = socket.removeAllListeners.bind(socket);
    socket.removeAllListeners = (event?: string | symbol) => {
      removeAll(event);
      if (event === undefined || event === 'error') socket.on('error', ignore);
      return socket;
    };
    return socket;
  }) as typeof tlsConnect;
}

/**
 * Binds as `dn`: undefined once bound, or why the directory refused the bind. A result that
 * speaks about the entry or the credentials refuses the login as a wrong password does: invalid
 * credentials (49), no such entry (32), an invalid DN (34), and an entry the directory holds locked or inactivated
 * (389-ds answers 53 or 19 whatever the password), which as a 503 would tell that the name exists
 * (a made-up name's bind is refused too). Any other result (the directory busy, unavailable, out
 * of time or failing: 1, 3, 11, 51, 52, 80, …) is an outage, and throws, as no answer at all does.
 */
export async function bindAsUser(
  client: LdapClient,
  dn: string,
  password: string,
): Promise<string | undefined> {
  // ldapts turns a bind "DN" that is a SASL mechanism name (an account "PLAIN" with bind_dn
  // "${account}") into a SASL bind; no user may choose the bind method.
  if ((SASL_MECHANISMS as readonly string[]).includes(dn)) return INVALID_CREDENTIALS;
  try {
    await client.bind(dn, password);
    return undefined;
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return INVALID_CREDENTIALS;
    if (refusedForThisDn(err)) {
      return `the directory refused the bind: ${(err as Error).message}`;
    }
    throw err;
  }
}

/**
 * The results of a bind that say no to this entry or these credentials, not to every bind. An
 * invalid DN (34) is one: OpenLDAP answers it for a DN whose attribute it does not know or whose
 * value its syntax refuses (the decoy's DN under a filter that names `sAMAccountName` first, or a
 * DN built from an account under `initial_bind_as_user`), where a made-up name must get a
 * refusal as a real name's wrong password does.
 */
const REFUSALS = [
  NoSuchObjectError,
  InvalidDNSyntaxError,
  InappropriateAuthError,
  InsufficientAccessError,
  UnwillingToPerformError,
  ConstraintViolationError,
] as const;

/** Whether `err` is one of the directory's answers that say no to this DN alone (REFUSALS). */
export function refusedForThisDn(err: unknown): boolean {
  return REFUSALS.some((refusal) => err instanceof refusal);
}

const INVALID_CREDENTIALS = 'invalid credentials';

export function quietUnbind(client: LdapClient): Promise<void> {
  return client.unbind().catch(() => undefined);
}
