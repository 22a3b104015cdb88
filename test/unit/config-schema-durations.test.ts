/**
 * docs/configuration.md "Editor support": editors show each key's default from the JSON Schema.
 * zod leaves out the default of a value it transforms, so no duration key had one
 * (token.expiration, server.headers_timeout, lockout.backoff, …). Found by a review.
 */
import { expect, test } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';

type Node = { properties?: Record<string, Node>; anyOf?: Node[]; default?: unknown };
const schema = configJsonSchema() as Node;

/** The node of `section.key`, through a nullable section's anyOf. */
function keyNode(section: string, key: string): Node | undefined {
  const s = schema.properties?.[section];
  const holder = s?.properties ? s : s?.anyOf?.find((n) => n.properties);
  return holder?.properties?.[key];
}

test.each([
  ['token', 'expiration', 900],
  ['server', 'headers_timeout', 5],
  ['server', 'request_timeout', 10],
  ['lockout', 'backoff', 1],
  ['lockout', 'forget_after', 900],
  ['login_queue', 'retry_after', 1],
])(
  'the JSON Schema gives the default of the duration %s.%s (%j), as docs/configuration.md says editors show',
  (section, key, seconds) => {
    const node = keyNode(section, key);
    expect(node).toBeDefined();
    // Every non-duration key with a default has one (`server.max_connections: 512`); no duration has.
    expect(node!.default).toBe(seconds);
  },
);
