import { InvalidCredentialsError, SASL_MECHANISMS } from 'ldapts';
import type { Client, ClientOptions } from 'ldapts';

/** The part of ldapts' Client this backend uses; tests inject a fake. */
export type LdapClient = Pick<Client, 'bind' | 'search' | 'startTLS' | 'unbind' | 'isConnected' | 'isBound'>;

/** Makes one LDAP client (one connection, opened lazily by the first operation). */
export type LdapClientFactory = (options: ClientOptions) => LdapClient;

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

/** Binds as `dn`; false for invalid credentials (result 49), throws for anything else. */
export async function bindAsUser(client: LdapClient, dn: string, password: string): Promise<boolean> {
  // ldapts turns a bind "DN" that is a SASL mechanism name (an account "PLAIN" with bind_dn
  // "${account}") into a SASL bind; no user may choose the bind method.
  if ((SASL_MECHANISMS as readonly string[]).includes(dn)) return false;
  try {
    await client.bind(dn, password);
    return true;
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return false;
    throw err;
  }
}

export function quietUnbind(client: LdapClient): Promise<void> {
  return client.unbind().catch(() => undefined);
}
