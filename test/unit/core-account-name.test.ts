import { expect, test } from 'vitest';
import { quoteAccount } from '../../src/core/account-name.js';

test('quoteAccount escapes what the name rule refuses, and quotes the rest as JSON does', () => {
  expect(quoteAccount('alice')).toBe('"alice"');
  expect(quoteAccount('dév-équipe')).toBe('"dév-équipe"');
  expect(quoteAccount('admin\u3164')).toBe('"admin\\u3164"');
  expect(quoteAccount('ad min')).toBe('"ad\\u0020min"');
  expect(quoteAccount('a\u007fb\u0085')).toBe('"a\\u007fb\\u0085"');
  // Outside the BMP: both halves, as JSON would write them.
  expect(quoteAccount('admin\u{e0100}')).toBe('"admin\\udb40\\udd00"');
  expect(quoteAccount('a"b\u0000')).toBe('"a\\"b\\u0000"');
});
