import { attributeKey } from './attribute.js';

/**
 * The value of the first CN in a DN (`CN=Dev Ops,OU=Groups,DC=example,DC=org` → `Dev Ops`), as
 * docker_auth's parse_cn; undefined when the DN has no CN.
 */
export function cnOf(dn: string): string | undefined {
  // Attribute type and value pairs, honouring backslash escapes; multi-valued RDNs (`+`) are split too.
  for (const [, type, raw] of dn.matchAll(/\s*([^=,+]+?)\s*=((?:\\.|[^,+\\])*)/g)) {
    if (type!.toLowerCase() !== 'cn') continue;
    return unescapeDnValue(raw!.trim());
  }
  return undefined;
}

/**
 * The value of `attribute` in the DN's first RDN, the entry's own name (`uid=alice,ou=people,…`
 * → `alice` for `uid`); undefined when the first RDN has no such attribute.
 */
export function rdnValue(dn: string, attribute: string): string | undefined {
  const wanted = attributeKey(attribute);
  // The first RDN ends at the first comma no backslash escapes; `+` joins its attribute values.
  for (const [, type, raw, end] of dn.matchAll(/\s*([^=,+]+?)\s*=((?:\\.|[^,+\\])*)([,+]|$)/g)) {
    if (attributeKey(type!) === wanted) return unescapeDnValue(raw!.trim());
    if (end !== '+') return undefined;
  }
  return undefined;
}

function unescapeDnValue(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch === '\\' && i + 1 < raw.length) {
      bytes.push(...Buffer.from(raw[i + 1]!, 'utf8'));
      i += 1;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Escapes a value for use inside a DN attribute value (RFC 4514 section 2.4): `"+,;<>\` and
 * `=` get a backslash, NUL becomes `\00`, a leading `#` or space and a trailing space are escaped.
 */
export function escapeDnValue(value: string): string {
  const chars = [...value];
  return chars
    .map((ch, i) => {
      if (ch === '\0') return '\\00';
      if ('"+,;<>\\='.includes(ch)) return `\\${ch}`;
      if ((i === 0 && (ch === '#' || ch === ' ')) || (i === chars.length - 1 && ch === ' ')) return `\\${ch}`;
      return ch;
    })
    .join('');
}
