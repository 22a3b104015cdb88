import { z } from 'zod';
import { strict } from '../core/schema.js';
import { defineSection } from '../core/section.js';
import { compileAcl } from './acl.js';

const pattern = z.string({ error: 'must be a string (a glob or a /regex/)' });

const aclRule = strict({
  match: strict({
    account: pattern.optional(),
    type: pattern.optional(),
    name: pattern.optional(),
    service: pattern.optional(),
    ip: pattern.optional(),
    labels: z.record(z.string(), pattern).optional(),
  }),
  actions: z.array(z.string({ error: 'actions must be strings' }), { error: 'must be a list of actions' }),
  comment: z.string().optional(),
});

/** `acl:` the rules, first match decides (docs/acl.md); compiled once at load. */
export const aclSection = defineSection({
  schema: z.array(aclRule).default([]),
  compile: (rules) => compileAcl(rules, 'acl'),
});
