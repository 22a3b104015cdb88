import { errors as joseErrors, jwtVerify } from 'jose';
import type { CatalogConfig } from './config.js';
import type { SigningKey } from '../token/types.js';
import { unauthorized } from './errors.js';

/** The caller of the filtered catalog, as its token names it. */
export interface CatalogCaller {
  /** `""` for the anonymous account. */
  readonly account: string;
  readonly labels: Readonly<Record<string, readonly string[]>>;
}

/** How far apart clocks may be when a token's `nbf` and `exp` are read: the registry's leeway. */
const CLOCK_LEEWAY_SECONDS = 60;

/** The longest token looked at; a regauth token with many labels stays far below. */
const MAX_TOKEN_LENGTH = 64 * 1024;

/**
 * Reads the caller from `Authorization: Bearer <token>`: a token regauth signed with its current
 * key, for the catalog's own service (`aud`), from its issuer, unexpired. No token: 401 with the
 * challenge; a token that fails a check: 401 with `error="invalid_token"`, as the registry
 * answers.
 */
export async function verifyCatalogToken(
  authorization: string | undefined,
  key: SigningKey,
  issuer: string,
  catalog: CatalogConfig,
  now: number,
): Promise<CatalogCaller> {
  const m = authorization === undefined ? null : /^Bearer +(\S+) *$/i.exec(authorization);
  if (!m) throw unauthorized();
  const token = m[1]!;
  if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('invalid_token');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      issuer,
      audience: catalog.service,
      currentDate: new Date(now * 1000),
      // As the registry reads a token (distribution's token verifier allows a minute either
      // way): replicas' and clients' clocks a little apart must not refuse the listing.
      clockTolerance: CLOCK_LEEWAY_SECONDS,
      // Every catalog token regauth signs carries its labels; one without them (signed for this
      // service before the catalog was configured) must not read as an account without labels.
      requiredClaims: ['exp', 'sub', 'labels'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw unauthorized('invalid_token');
    throw err;
  }
  const account = payload['sub'];
  const labels = readLabels(payload['labels']);
  if (typeof account !== 'string' || labels === undefined) throw unauthorized('invalid_token');
  return { account, labels };
}

/** The `labels` claim as regauth writes it (each label a list of strings), or undefined. */
function readLabels(value: unknown): Readonly<Record<string, readonly string[]>> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const labels: Record<string, readonly string[]> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return undefined;
    Object.defineProperty(labels, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return labels;
}
