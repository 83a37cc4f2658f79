/**
 * IPv4/IPv6 CIDR parsing and matching for `from.ipBlocks` and the CEL helper `cidrMatch`.
 * Addresses are compared as bigints; IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) match IPv4 blocks.
 */

/** A parsed CIDR block. */
export interface Cidr {
  readonly v6: boolean;
  readonly base: bigint;
  readonly bits: number;
}

/** Parses an IPv4 or IPv6 address into its family and value; undefined when malformed. */
export function parseIp(text: string): { v6: boolean; value: bigint } | undefined {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!s.includes(':')) {
    const v4 = parseIpv4(s);
    return v4 === undefined ? undefined : { v6: false, value: v4 };
  }
  const v6 = parseIpv6(s);
  if (v6 === undefined) return undefined;
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d (RFC 4291 §2.5.5.2).
  if (v6 >> 32n === 0xffffn) return { v6: false, value: v6 & 0xffffffffn };
  return { v6: true, value: v6 };
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] ?? '').split(':')) : [];
  const groups: bigint[] = [];
  const all = [...head, ...tail];
  const last = all[all.length - 1];
  const embeddedV4 = last?.includes('.') ? parseIpv4(last) : undefined;
  if (last?.includes('.') && embeddedV4 === undefined) return undefined;
  // An embedded IPv4 address must be the last 32 bits (`::ffff:1.2.3.4`, never `1.2.3.4::`).
  if (embeddedV4 !== undefined && halves.length === 2 && tail.length === 0) return undefined;
  const hexGroups = embeddedV4 === undefined ? all.length : all.length - 1;
  const width = hexGroups + (embeddedV4 === undefined ? 0 : 2);
  if (halves.length === 1 ? width !== 8 : width > 7) return undefined;
  for (const g of all.slice(0, hexGroups)) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    groups.push(BigInt(`0x${g}`));
  }
  let value = 0n;
  const headCount = Math.min(head.length, hexGroups);
  for (let i = 0; i < headCount; i++) value = (value << 16n) | (groups[i] ?? 0n);
  value <<= 16n * BigInt(8 - width);
  for (let i = headCount; i < hexGroups; i++) value = (value << 16n) | (groups[i] ?? 0n);
  if (embeddedV4 !== undefined) value = (value << 32n) | embeddedV4;
  return value;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === undefined) return undefined;
  const max = ip.v6 ? 128 : 32;
  const bitsText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > max) return undefined;
  const shift = BigInt(max - bits);
  return { v6: ip.v6, base: (ip.value >> shift) << shift, bits };
}

/** Is the address inside the block? False for malformed addresses or a family mismatch. */
export function cidrContains(block: Cidr, address: string): boolean {
  const ip = parseIp(address);
  if (ip === undefined || ip.v6 !== block.v6) return false;
  const shift = BigInt((block.v6 ? 128 : 32) - block.bits);
  return (ip.value >> shift) << shift === block.base;
}
