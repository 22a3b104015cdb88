import { BadRequestError, UnsupportedGrantError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import type { Credentials } from './credentials.js';
import { checkAccount } from '../core/account-name.js';
import { parseBasicAuth } from './basic.js';
import { parseScopes, type Scope } from './scope.js';

/** The parts of an HTTP request the token endpoint reads; built by src/http, parsed here without Express. */
export interface RawTokenRequest {
  readonly method: 'GET' | 'POST';
  /** The raw query string, without `?`. */
  readonly query: string;
  readonly authorization: string | undefined;
  /** POST only: the raw `application/x-www-form-urlencoded` body. */
  readonly body?: string;
}

/** A parsed, validated token request. */
export interface TokenRequest {
  readonly grant: 'password' | 'refresh_token';
  readonly credentials: Credentials;
  /** Present for grant `refresh_token`. */
  readonly refreshToken?: Secret;
  /** The requested `service` (becomes `aud`); `""` when the client sent none. */
  readonly service: string;
  readonly clientId: string | undefined;
  /** `offline_token=true` (GET) or `access_type=offline` (POST). */
  readonly offline: boolean;
  readonly scopes: readonly Scope[];
}

const ANONYMOUS: Credentials = { account: '', password: undefined };
/** The longest value a token request's field may hold (a password included). */
export const MAX_FIELD_LENGTH = 8192;
/**
 * Refresh tokens are longer than any other field (those of app-password logins carry the login's
 * labels); regauth never issues one longer than this (src/pipeline/pipeline.ts), so every one it issued is accepted.
 */
export const MAX_REFRESH_TOKEN_LENGTH = 32_768;

/** Parses a GET or POST token request (docs/http-api.md "The token request"). Throws 400-class errors. */
export function parseTokenRequest(raw: RawTokenRequest): TokenRequest {
  return raw.method === 'GET' ? parseGet(raw) : parsePost(raw);
}

function parseGet(raw: RawTokenRequest): TokenRequest {
  const params = utf8Params(raw.query, 'the query is not UTF-8');
  const basic = parseBasicAuth(raw.authorization);
  const account = single(params, 'account');
  if (account !== undefined && basic && account !== basic.account) {
    throw new BadRequestError('account parameter does not match the Basic credentials');
  }
  return {
    grant: 'password',
    credentials: basic ?? ANONYMOUS,
    service: single(params, 'service') ?? '',
    clientId: single(params, 'client_id'),
    offline: single(params, 'offline_token') === 'true',
    scopes: parseScopes(params.getAll('scope')),
  };
}

function parsePost(raw: RawTokenRequest): TokenRequest {
  const params = utf8Params(raw.body ?? '', 'the form is not UTF-8');
  const grantType = single(params, 'grant_type');
  const base = {
    service: single(params, 'service') ?? '',
    clientId: single(params, 'client_id'),
    // One space-joined field (docker, containerd) or repeated fields (containers/image).
    scopes: parseScopes(params.getAll('scope')),
  };
  switch (grantType) {
    case 'password': {
      const username = required(params, 'username');
      checkAccount(username);
      const password = required(params, 'password');
      return {
        ...base,
        grant: 'password',
        credentials: { account: username, password: new Secret(password) },
        offline: single(params, 'access_type') === 'offline',
      };
    }
    case 'refresh_token':
      // The account comes from the token (containerd sends no username with it). It answers
      // with the token it was given and offers none: access_type is not read.
      return {
        ...base,
        grant: 'refresh_token',
        credentials: ANONYMOUS,
        offline: false,
        refreshToken: new Secret(required(params, 'refresh_token', MAX_REFRESH_TOKEN_LENGTH)),
      };
    case undefined:
      throw new BadRequestError('missing grant_type');
    default:
      throw new UnsupportedGrantError(grantType);
  }
}

/**
 * A query or form's fields. URLSearchParams reads a percent-escaped byte that is not UTF-8 as
 * U+FFFD: `password=p%FF` and `p%FE` would be one password, `service=s%FF` and `s%FE` one
 * service. decodeURIComponent refuses them; asked only when a U+FFFD shows.
 */
function utf8Params(text: string, refusal: string): URLSearchParams {
  // A lone surrogate is read as U+FFFD too: `p\uD800` and `p\uDC00` would be one password. (The
  // HTTP layer reads UTF-8 forms only, which hold none; a caller passing text must not either.)
  if (LONE_SURROGATE.test(text)) throw new BadRequestError(refusal);
  const params = new URLSearchParams(text);
  for (const value of params.values()) {
    if (!value.includes('\uFFFD')) continue;
    // The whole text once, at the first U+FFFD: once per such value was quadratic.
    if (!decodesAsUtf8(text)) throw new BadRequestError(refusal);
    break;
  }
  return params;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** Whether every percent-escaped sequence of a form is UTF-8 (a stray `%` is a literal one). */
function decodesAsUtf8(body: string): boolean {
  for (const field of body.split('&')) {
    try {
      decodeURIComponent(field.replace(/\+/g, ' ').replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
    } catch {
      return false;
    }
  }
  return true;
}

function single(params: URLSearchParams, name: string, maxLength = MAX_FIELD_LENGTH): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new BadRequestError(`parameter ${name} given more than once`);
  const value = values[0];
  if (value !== undefined && value.length > maxLength)
    throw new BadRequestError(`parameter ${name} too long`);
  return value;
}

function required(params: URLSearchParams, name: string, maxLength = MAX_FIELD_LENGTH): string {
  const value = single(params, name, maxLength);
  if (value === undefined || value === '') throw new BadRequestError(`missing ${name}`);
  return value;
}
