import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { PortcullisError } from '../errors.js';
import type { InlineJwk } from './config.js';

/** The JWS algorithms a bundle may be signed with. */
export type BundleAlg = 'EdDSA' | 'ES256';

/** A verification key trusted for bundles, by `kid`. */
export interface TrustedKey {
  readonly kid: string;
  readonly alg: BundleAlg;
  readonly key: CryptoKey;
  /** The public JWK (for display). */
  readonly jwk: JWK;
}

/** Trusted keys by `kid`. */
export type TrustedKeys = ReadonlyMap<string, TrustedKey>;

/** A private key that signs bundles. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: BundleAlg;
  readonly key: CryptoKey;
}

/** The algorithm a JWK is for: Ed25519 → EdDSA, P-256 → ES256; undefined for anything else. */
export function algOfJwk(jwk: JWK): BundleAlg | undefined {
  if (
    jwk.kty === 'OKP' &&
    jwk.crv === 'Ed25519' &&
    (!jwk.alg || jwk.alg === 'EdDSA' || jwk.alg === 'Ed25519')
  )
    return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256' && (!jwk.alg || jwk.alg === 'ES256')) return 'ES256';
  return undefined;
}

function publicPart(jwk: JWK): JWK {
  const out: JWK = {};
  for (const k of ['kty'] as const) if (jwk[k] !== undefined) out[k] = jwk[k];
  for (const k of ['crv', 'x', 'y', 'kid'] as const) if (jwk[k] !== undefined) out[k] = jwk[k];
  return out;
}

async function trustedKey(jwk: JWK, where: string): Promise<TrustedKey> {
  const alg = algOfJwk(jwk);
  if (!alg) throw new Error(`${where}: key must be Ed25519 (EdDSA) or P-256 (ES256)`);
  if (!jwk.kid) throw new Error(`${where}: key has no kid`);
  const pub = { ...publicPart(jwk), alg };
  const key = (await importJWK(pub, alg)) as CryptoKey;
  return { kid: jwk.kid, alg, key, jwk: pub };
}

function keysOfFile(text: string): JWK[] {
  const doc = JSON.parse(text) as { keys?: unknown; kty?: unknown };
  if (Array.isArray(doc.keys)) return doc.keys as JWK[];
  if (typeof doc.kty === 'string') return [doc as JWK];
  throw new Error('neither a JWKS ({"keys": [...]}) nor a JWK');
}

/** Loads trusted public keys from JWKS/JWK files and inline JWKs; throws `config_invalid` listing every problem. */
export async function loadTrustedKeys(source: {
  readonly files: readonly string[];
  readonly inline: readonly InlineJwk[];
}): Promise<TrustedKeys> {
  const problems: string[] = [];
  const keys = new Map<string, TrustedKey>();
  const add = async (jwk: JWK, where: string) => {
    try {
      const k = await trustedKey(jwk, where);
      if (keys.has(k.kid)) problems.push(`${where}: duplicate kid ${JSON.stringify(k.kid)}`);
      else keys.set(k.kid, k);
    } catch (e) {
      problems.push((e as Error).message);
    }
  };
  for (const file of source.files) {
    let jwks: JWK[];
    try {
      jwks = keysOfFile(await readFile(file, 'utf8'));
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
      continue;
    }
    for (const [i, jwk] of jwks.entries()) await add(jwk, `${file} key ${i}`);
  }
  for (const [i, jwk] of source.inline.entries()) await add(jwk as JWK, `keys.inline[${i}]`);
  if (problems.length > 0)
    throw new PortcullisError('config_invalid', `trusted bundle keys: ${problems.join('; ')}`, {
      details: problems.sort(),
    });
  return keys;
}

/** Loads a signing key: a private JWK file (with `kid`) or a PKCS#8 PEM file (`kid` from the flag or the thumbprint). */
export async function loadSigningKey(path: string, kidOverride?: string): Promise<SigningKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PortcullisError('config_invalid', `signing key ${path}: ${(e as Error).message}`);
  }
  let jwk: JWK;
  try {
    jwk = text.includes('-----BEGIN')
      ? (createPrivateKey(text).export({ format: 'jwk' }) as JWK)
      : (JSON.parse(text) as JWK);
  } catch (e) {
    throw new PortcullisError('config_invalid', `signing key ${path}: ${(e as Error).message}`);
  }
  const alg = algOfJwk(jwk);
  if (!alg || typeof jwk.d !== 'string')
    throw new PortcullisError('config_invalid', `signing key ${path}: need a private Ed25519 or P-256 key`);
  const kid = kidOverride ?? jwk.kid ?? (await calculateJwkThumbprint(publicPart(jwk)));
  const key = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
  return { kid, alg, key };
}

/** Generates a signing key pair; returns the private and public JWKs (both carry `kid` and `alg`). */
export async function generateBundleKeyPair(
  alg: BundleAlg,
  kid: string,
): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const pair = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg, use: 'sig' };
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  return { privateJwk, publicJwk };
}
