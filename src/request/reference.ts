/**
 * The repository name grammar of distribution/reference (the names a registry accepts),
 * compiled once. A name may start with a `host[:port]/` domain.
 */
const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const domainLabel = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `(?:${domainLabel}(?:\\.${domainLabel})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const NAME = new RegExp(`^(?:${domain}/)?${component}(?:/${component})*$`);

/** Longest name the registry accepts (distribution's NameTotalLengthMax). */
export const NAME_MAX_LENGTH = 255;

/** True when `name` is a valid repository name (`library/ubuntu`, `localhost:5000/foo`). */
export function isValidRepositoryName(name: string): boolean {
  return name.length <= NAME_MAX_LENGTH && NAME.test(name);
}
