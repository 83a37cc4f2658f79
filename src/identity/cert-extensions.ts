import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  KeyUsage,
} from '@peculiar/asn1-x509';

/**
 * Reads the KeyUsage and basicConstraints extensions (RFC 5280 §4.2.1.3, §4.2.1.9) with the
 * maintained `@peculiar/asn1-x509` schemas.
 *
 * Why: Node's `X509Certificate` exposes SANs and EKU, but not KeyUsage, and its `ca` is OpenSSL's
 * X509_check_ca (not the raw cA flag); the X.509-SVID spec (§4.1, §4.3) requires a leaf with
 * cA=false, `digitalSignature`, and no certificate signing. Chains, signatures, validity and SANs
 * stay Node's.
 */

/** KeyUsage bits as a mask: bit n of the ASN.1 named bit list is `1 << n` (as KeyUsageFlags). */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
} as const;

/** The two extensions an X.509-SVID check needs. */
export interface CertExtensions {
  /** KeyUsage mask; null when absent; -1 when present but malformed. */
  readonly keyUsage: number | null;
  /** The basicConstraints cA flag exactly as encoded; a malformed certificate reads as true (refuse). */
  readonly ca: boolean;
}

const MALFORMED: CertExtensions = Object.freeze({ keyUsage: -1, ca: true });

/** Parses a DER certificate's KeyUsage and basicConstraints; never throws. */
export function readCertExtensions(der: Uint8Array): CertExtensions {
  let exts: Certificate['tbsCertificate']['extensions'];
  try {
    exts = AsnConvert.parse(der, Certificate).tbsCertificate.extensions;
  } catch {
    return MALFORMED;
  }
  let keyUsage: number | null = null;
  let ca = false;
  for (const ext of exts ?? []) {
    try {
      if (ext.extnID === id_ce_keyUsage) keyUsage = AsnConvert.parse(ext.extnValue, KeyUsage).toNumber();
      else if (ext.extnID === id_ce_basicConstraints)
        ca = AsnConvert.parse(ext.extnValue, BasicConstraints).cA;
    } catch {
      if (ext.extnID === id_ce_keyUsage) keyUsage = -1;
      else ca = true;
    }
  }
  return { keyUsage, ca };
}
