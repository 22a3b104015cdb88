import type { z } from 'zod';
import { credentialCacheSection } from '../authn/cache-config.js';
import { jwtSection } from '../authn/jwt/config.js';
import { ldapSection } from '../authn/ldap/config.js';
import { usersFileSection, usersSection } from '../authn/users-config.js';
import { aclSection } from '../authz/acl-config.js';
import { catalogSection } from '../catalog/config.js';
import { logSection } from '../core/log.js';
import { extAuthSection, extAuthzSection } from '../ext/config.js';
import { lockoutSection, loginQueueSection } from '../guard/config.js';
import { oidcSection } from '../oidc/config.js';
import { storeSection } from '../store/config.js';

/**
 * The config's sections after `server:` and `token:` (which src/config/ owns), each declared
 * beside the code it configures: its schema and its compile step. The loader validates and
 * compiles them in this order, and `Config` holds each under its YAML name.
 */
export const SECTIONS = {
  users: usersSection,
  users_file: usersFileSection,
  ext_auth: extAuthSection,
  ext_authz: extAuthzSection,
  ldap_auth: ldapSection,
  oidc_auth: oidcSection,
  jwt_auth: jwtSection,
  acl: aclSection,
  log: logSection,
  lockout: lockoutSection,
  login_queue: loginQueueSection,
  store: storeSection,
  credential_cache: credentialCacheSection,
  catalog: catalogSection,
};

type Sections = typeof SECTIONS;
export type SectionName = keyof Sections;

/** Each section's schema, as the top-level schema holds it. */
export const sectionSchemas = Object.fromEntries(
  Object.entries(SECTIONS).map(([name, section]) => [name, section.schema]),
) as { [K in SectionName]: Sections[K]['schema'] };

/** What each section compiles to; undefined when an optional section is absent. */
export type CompiledSections = {
  readonly [K in SectionName]:
    | ReturnType<Sections[K]['compile']>
    | (undefined extends z.output<Sections[K]['schema']> ? undefined : never);
};

/**
 * The sections whose accounts and labels come from outside the config (a directory, a provider,
 * a program): the tools cannot tell those accounts' labels without asking.
 */
export const ONLINE_BACKENDS = [
  'ext_auth',
  'ldap_auth',
  'oidc_auth',
  'jwt_auth',
] as const satisfies readonly SectionName[];
