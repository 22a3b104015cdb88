import { z } from 'zod';
import { strict } from '../core/schema.js';
import { defineSection } from '../core/section.js';
import { ACTION, compileAcl } from './acl.js';

/**
 * A pattern; one YAML reads as a number or a boolean (`account: 1001`) is its text as written, as
 * docker_auth's yaml.v2 reads any scalar into a string (compile, below).
 */
const pattern = z.union([z.string(), z.number(), z.boolean()], {
  error: 'must be a string (a glob or a /regex/)',
});

const aclRule = strict({
  match: strict({
    account: pattern.optional(),
    type: pattern.optional(),
    name: pattern.optional(),
    service: pattern.optional(),
    ip: pattern.optional(),
    labels: z.record(z.string(), pattern).optional(),
  }),
  actions: z.array(
    // The grammar for editors (the JSON Schema); the loader checks it in compileActions, where
    // its error names the action.
    z.string({ error: 'actions must be strings' }).meta({ pattern: `^\\*$|${ACTION.source}` }),
    { error: 'must be a list of actions' },
  ),
  comment: z.string().optional(),
});

/** `acl:` the rules, first match decides (docs/acl.md); compiled once at load. */
export const aclSection = defineSection({
  schema: z.array(aclRule).default([]),
  compile: (rules, ctx) =>
    compileAcl(
      rules.map((rule, i) => {
        const text = (v: string | number | boolean, path: string[]) =>
          ctx.textAt(['acl', i, 'match', ...path], v);
        // In the order written, as the rule's explanations list its conditions.
        const match = Object.fromEntries(
          Object.entries(rule.match).map(([field, v]) => [
            field,
            field === 'labels'
              ? Object.fromEntries(
                  Object.entries(v as Record<string, string | number | boolean>).map(([k, value]) => [
                    k,
                    text(value, ['labels', k]),
                  ]),
                )
              : text(v as string | number | boolean, [field]),
          ]),
        );
        return { ...rule, match };
      }),
      'acl',
    ),
});
