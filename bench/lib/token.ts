import { writeFile } from 'node:fs/promises';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createRootCa, envoyCertificateField, issueSvid } from '../../test/fixtures/pki.js';

/** A trust domain's CA and one workload's X.509-SVID, generated in memory for this run. */
export interface BenchPki {
  /** PEM of the root CA (the trust bundle). */
  readonly caPem: string;
  /** `source.certificate` as Envoy sends it: the URL-encoded leaf PEM. */
  readonly envoyCertificate: string;
}

/** Creates a root CA for `trustDomain` and an SVID for `spiffeId` (the test PKI's encoder). */
export function createBenchPki(trustDomain: string, spiffeId: string): BenchPki {
  const root = createRootCa({ name: `${trustDomain} bench root` });
  const svid = issueSvid(root, { uris: [spiffeId] });
  return { caPem: root.pem, envoyCertificate: envoyCertificateField(svid.pem) };
}

/** A signing key for the benchmark's end-user tokens, with its public JWKS. */
export interface BenchIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly kid: string;
  /** Public JWKS document (`{ keys: [...] }`). */
  readonly jwks: { keys: Record<string, unknown>[] };
  /** Signs a realistic end-user token valid for `ttlSeconds`. */
  sign(subject: string, ttlSeconds: number): Promise<string>;
}

/** Creates an ES256 issuer whose key lives only in memory for this run. */
export async function createBenchIssuer(issuer: string, audience: string): Promise<BenchIssuer> {
  const kid = 'bench-es256-1';
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    issuer,
    audience,
    kid,
    jwks: { keys: [publicJwk] },
    sign: (subject, ttlSeconds) =>
      new SignJWT({
        scope: 'orders:read orders:write profile email',
        groups: ['customers', 'beta-testers'],
        roles: ['customer'],
        tenant: 'acme-eu',
        plan: 'pro',
        email: 'ada.lovelace@example.com',
        name: 'Ada Lovelace',
        email_verified: true,
        azp: 'storefront-web',
        sid: '8d6c1f0e-6a4b-4e3a-9a77-3f1c2d5e9b10',
        preferred_username: 'ada.lovelace',
        amr: ['pwd', 'otp'],
      })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime(`${ttlSeconds}s`)
        .setJti('0b7e3c1a-93f2-4c1e-8b5d-2f6a7c9e1d44')
        .sign(privateKey),
  };
}

/** Writes the issuer's public JWKS to `path` (for the sidecar's and Cerbos's local key sets). */
export async function writeJwks(issuer: BenchIssuer, path: string): Promise<void> {
  await writeFile(path, `${JSON.stringify(issuer.jwks, null, 2)}\n`);
}
