/**
 * Reads the KeyUsage extension (RFC 5280 §4.2.1.3) of a certificate that `X509Certificate` has
 * already parsed and validated structurally.
 *
 * Why this exists: Node's `X509Certificate` exposes basicConstraints (`ca`), SANs and EKU, but not
 * KeyUsage, and the X.509-SVID spec (§4.3) requires `digitalSignature` on leaves and `keyCertSign`
 * on signing certificates. No maintained X.509 library is a dependency here, so this is the one
 * narrow DER walk the module does: bounded, read-only, over `X509Certificate.raw`, used only after
 * OpenSSL accepted the same bytes. Everything else (chain, signatures, validity, SANs) is Node's.
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
 * Returns the KeyUsage mask of a DER certificate: `null` when the extension is absent,
 * `-1` when it is present but malformed.
 */
export function readKeyUsage(der: Uint8Array): number | null {
  const cert = readTlv(der, 0, der.length);
  const tbs = cert && readTlv(der, cert.start, cert.end);
  const fields = tbs && children(der, tbs);
  if (!fields) return -1;
  const extsWrapper = fields.find((f) => f.tag === 0xa3); // [3] EXPLICIT Extensions
  if (!extsWrapper) return null;
  const exts = readTlv(der, extsWrapper.start, extsWrapper.end);
  const list = exts && children(der, exts);
  if (!list) return -1;
  for (const ext of list) {
    const parts = children(der, ext);
    const oid = parts?.[0];
    if (!parts || !oid || oid.tag !== 0x06) return -1;
    if (!Buffer.from(der.subarray(oid.start, oid.end)).equals(KEY_USAGE_OID)) continue;
    const value = parts[parts.length - 1]!;
    if (value.tag !== 0x04) return -1;
    const bits = readTlv(der, value.start, value.end);
    const size = bits ? bits.end - bits.start : 0;
    if (bits?.tag !== 0x03 || size < 1 || size > 3) return -1;
    let mask = 0;
    for (let i = 0; i < (bits.end - bits.start - 1) * 8; i++) {
      if (der[bits.start + 1 + (i >> 3)]! & (0x80 >> (i & 7))) mask |= 1 << i;
    }
    return mask;
  }
  return null;
}
