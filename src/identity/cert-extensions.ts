/**
 * Reads the KeyUsage and basicConstraints extensions (RFC 5280 §4.2.1.3, §4.2.1.9) of a
 * certificate that `X509Certificate` has already parsed.
 *
 * Why this exists: Node's `X509Certificate` exposes SANs and EKU, but not KeyUsage, and its `ca`
 * is OpenSSL's X509_check_ca (not the raw cA flag); the X.509-SVID spec (§4.1, §4.3) requires a
 * leaf with cA=false, `digitalSignature`, and no certificate signing. No maintained X.509 library is
 * a dependency here, so this is the one narrow DER walk the module does: bounded, read-only, over
 * `X509Certificate.raw`, used only after OpenSSL accepted the same bytes. Chains, signatures,
 * validity and SANs are all Node's.
 */

/** KeyUsage bits as a mask: bit n of the ASN.1 named bit list is `1 << n`. */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
} as const;

interface Tlv {
  readonly tag: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** OID 2.5.29.15 (id-ce-keyUsage), DER content bytes. */
const KEY_USAGE_OID = Buffer.from([0x55, 0x1d, 0x0f]);
/** OID 2.5.29.19 (id-ce-basicConstraints). */
const BASIC_CONSTRAINTS_OID = Buffer.from([0x55, 0x1d, 0x13]);

function readTlv(buf: Uint8Array, offset: number, limit: number): Tlv | null {
  if (offset + 2 > limit) return null;
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[start + i]!;
    start += n;
  }
  const end = start + len;
  return end > limit ? null : { tag, start, end };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const t = readTlv(buf, at, parent.end);
    if (t === null) return null;
    out.push(t);
    at = t.end;
  }
  return out;
}

/**
 * The DER value (OCTET STRING content) of the extension with OID `oid`: null when absent,
 * 'malformed' when the certificate structure cannot be walked.
 */
function findExtension(der: Uint8Array, oid: Buffer): Tlv | null | 'malformed' {
  const cert = readTlv(der, 0, der.length);
  const tbs = cert && readTlv(der, cert.start, cert.end);
  const fields = tbs && children(der, tbs);
  if (!fields) return 'malformed';
  const extsWrapper = fields.find((f) => f.tag === 0xa3); // [3] EXPLICIT Extensions
  if (!extsWrapper) return null;
  const exts = readTlv(der, extsWrapper.start, extsWrapper.end);
  const list = exts && children(der, exts);
  if (!list) return 'malformed';
  for (const ext of list) {
    const parts = children(der, ext);
    const id = parts?.[0];
    if (!parts || id?.tag !== 0x06) return 'malformed';
    if (!Buffer.from(der.subarray(id.start, id.end)).equals(oid)) continue;
    const value = parts[parts.length - 1]!;
    return value.tag === 0x04 ? value : 'malformed';
  }
  return null;
}

/**
 * Returns the KeyUsage mask of a DER certificate: `null` when the extension is absent,
 * `-1` when it is present but malformed.
 */
export function readKeyUsage(der: Uint8Array): number | null {
  const value = findExtension(der, KEY_USAGE_OID);
  if (value === null) return null;
  if (value === 'malformed') return -1;
  const bits = readTlv(der, value.start, value.end);
  const size = bits ? bits.end - bits.start : 0;
  if (bits?.tag !== 0x03 || size < 1 || size > 3) return -1;
  let mask = 0;
  for (let i = 0; i < (size - 1) * 8; i++) {
    if (der[bits.start + 1 + (i >> 3)]! & (0x80 >> (i & 7))) mask |= 1 << i;
  }
  return mask;
}

/**
 * The basicConstraints cA flag (RFC 5280 §4.2.1.9) exactly as encoded: Node's `X509Certificate.ca`
 * is OpenSSL's X509_check_ca, which reports false for a cA=TRUE certificate whose KeyUsage lacks
 * keyCertSign — such a leaf must still be refused by X.509-SVID §4.1. Malformed → true (refuse).
 */
export function hasCaFlag(der: Uint8Array): boolean {
  const value = findExtension(der, BASIC_CONSTRAINTS_OID);
  if (value === null) return false;
  if (value === 'malformed') return true;
  const seq = readTlv(der, value.start, value.end);
  const fields = seq?.tag === 0x30 ? children(der, seq) : null;
  if (!fields) return true;
  const first = fields[0];
  return first?.tag === 0x01 && first.end > first.start && der[first.start] !== 0;
}
