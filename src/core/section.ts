import type { z } from 'zod';

/** A mapping key YAML read as something other than a string, and its text as written. */
export interface NonStringKey {
  readonly type: 'number' | 'boolean' | 'null';
  readonly text: string;
}

/**
 * What a config section's compile step may use: paths resolved against the config file's folder,
 * files read and recorded for reload watching, and the few facts one section takes from another.
 * src/config/load.ts makes one per load.
 */
export interface SectionContext {
  /** The config file's folder (the working directory for config text without a file). */
  readonly base: string;
  /** Resolves a path written in the config against `base`. */
  at(path: string): string;
  /**
   * Reads a file the config names and watches it for reloads; a missing file is a ConfigError
   * at `yamlPath`, with `advice` added when it does not exist.
   */
  readFile(yamlPath: string, path: string, advice?: string): string;
  /**
   * The keys of the mapping at `path` that YAML read as something else than a string (`~`, `1`,
   * `true`), by the string JavaScript made of them, with what they were and their text as written.
   */
  nonStringKeysAt(path: readonly PropertyKey[]): ReadonlyMap<string, NonStringKey>;
  /**
   * `value`, found at `path`, as text: a string as it is, a number or boolean as written
   * (`0755`, not 755), as docker_auth's yaml.v2 reads any scalar into a string.
   */
  textAt(path: readonly PropertyKey[], value: string | number | boolean): string;
  /** `token.services`: the catalog's service must differ from every one. */
  readonly tokenServices: readonly string[];
}

/**
 * One top-level section of the config: its schema (with `.optional()` or a default, as the
 * top level holds it) and the step that turns the validated value into what the code uses.
 * Compile throws ConfigError/ConfigErrors naming YAML paths; it runs only when the section is
 * present (or has a default).
 */
export interface Section<S extends z.ZodType, C> {
  readonly schema: S;
  compile(value: NonNullable<z.output<S>>, ctx: SectionContext): C;
}

/** Declares a section, keeping its types for the table in src/config/sections.ts. */
export function defineSection<S extends z.ZodType, C>(section: Section<S, C>): Section<S, C> {
  return section;
}

/** A section used as validated: the compile step is the identity. */
export function plainSection<S extends z.ZodType>(schema: S): Section<S, Readonly<NonNullable<z.output<S>>>> {
  return { schema, compile: (value) => Object.freeze(value) };
}
