/**
 * SPIFFE trust bundles: the X.509 authorities (and JWT-SVID keys) of each trust domain, loaded from
 * PEM files or SPIFFE bundle JSON (SPIFFE Trust Domain and Bundle spec §4, a JWKS whose keys carry
 * `use: x509-svid` with one `x5c` certificate, or `use: jwt-svid` with a `kid`).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { type FileWatcher, watchFiles } from './file-watch.js';

/** The parsed authorities of one trust domain. */
export interface TrustBundle {
  readonly trustDomain: string;
  /** Trust anchors for X.509-SVIDs. */
  readonly authorities: readonly X509Certificate[];
  /** Chain-building material only: each must itself chain to an authority. */
  readonly intermediates: readonly X509Certificate[];
  /** JWT-SVID key resolver, null when the bundle has no `jwt-svid` keys. */
  readonly jwtKeys: JWTVerifyGetKey | null;
}

/** Where one trust domain's bundle comes from. */
export interface TrustBundleSource {
  readonly trustDomain: string;
  readonly file: string;
  readonly intermediatesFile?: string | undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses every PEM certificate in `text`; returns an error string when there is none or one is bad. */
export function parsePemCertificates(text: string): X509Certificate[] | string {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return 'no PEM certificate found';
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      return `certificate #${i + 1} cannot be parsed`;
    }
  }
  return certs;
}

/** Parses a bundle file: SPIFFE bundle JSON when it starts with `{`, else PEM. */
export function parseBundleDocument(text: string): { x509: X509Certificate[]; jwt: JWK[] } | string {
  if (!text.trimStart().startsWith('{')) {
    const certs = parsePemCertificates(text);
    return typeof certs === 'string' ? certs : { x509: certs, jwt: [] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'invalid JSON';
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return 'SPIFFE bundle has no "keys" array';
  const x509: X509Certificate[] = [];
  const jwt: JWK[] = [];
  for (const [i, key] of keys.entries()) {
    const k = key as { use?: unknown; x5c?: unknown; kid?: unknown };
    if (k.use === 'x509-svid') {
      if (!Array.isArray(k.x5c) || k.x5c.length !== 1 || typeof k.x5c[0] !== 'string') {
        return `keys[${i}]: an x509-svid key needs exactly one x5c certificate`;
      }
      try {
        x509.push(new X509Certificate(Buffer.from(k.x5c[0], 'base64')));
      } catch {
        return `keys[${i}]: x5c certificate cannot be parsed`;
      }
    } else if (k.use === 'jwt-svid') {
      if (typeof k.kid !== 'string' || k.kid === '') return `keys[${i}]: a jwt-svid key needs a kid`;
      // jose only selects keys whose `use` is absent or "sig"; the SPIFFE use has served its purpose.
      jwt.push({ ...(key as JWK), use: 'sig' });
    }
    // Other `use` values are ignored, as the spec requires of unknown key uses.
  }
  if (x509.length === 0 && jwt.length === 0) return 'SPIFFE bundle has no x509-svid or jwt-svid key';
  return { x509, jwt };
}

/** Reads and parses one trust domain's files into a bundle, or returns the problem. */
export async function loadTrustBundle(source: TrustBundleSource): Promise<TrustBundle | string> {
  const where = `trust bundle ${source.trustDomain} (${source.file})`;
  const text = await readFile(source.file, 'utf8').catch(
    (e: NodeJS.ErrnoException) => new Error(e.code ?? 'read error'),
  );
  if (text instanceof Error) return `${where}: cannot read: ${text.message}`;
  const doc = parseBundleDocument(text);
  if (typeof doc === 'string') return `${where}: ${doc}`;
  const notCa = doc.x509.findIndex((c) => !c.ca);
  if (notCa !== -1) return `${where}: certificate #${notCa + 1} is not a CA`;
  let intermediates: X509Certificate[] = [];
  if (source.intermediatesFile !== undefined) {
    const interText = await readFile(source.intermediatesFile, 'utf8').catch(() => null);
    if (interText === null) return `${where}: cannot read intermediates ${source.intermediatesFile}`;
    const parsed = parsePemCertificates(interText);
    if (typeof parsed === 'string') return `${where}: intermediates: ${parsed}`;
    intermediates = parsed;
  }
  let jwtKeys: JWTVerifyGetKey | null = null;
  try {
    if (doc.jwt.length > 0) jwtKeys = createLocalJWKSet({ keys: doc.jwt } as JSONWebKeySet);
  } catch {
    return `${where}: jwt-svid keys are not a valid JWKS`;
  }
  return { trustDomain: source.trustDomain, authorities: doc.x509, intermediates, jwtKeys };
}

/** The trust bundles of all configured trust domains, reloaded from disk when their files change. */
export class TrustBundleStore {
  /** Incremented on every successful reload (cached verifications made before are discarded). */
  version = 0;
  private readonly bundles = new Map<string, TrustBundle>();
  private watcher: FileWatcher | null = null;

  private constructor(
    private readonly sources: readonly TrustBundleSource[],
    private readonly logger: Logger,
  ) {}

  /** Loads every bundle; problems (unreadable, malformed) are returned, all of them. */
  static async load(
    sources: readonly TrustBundleSource[],
    logger: Logger,
  ): Promise<{ store: TrustBundleStore; problems: string[] }> {
    const store = new TrustBundleStore(sources, logger);
    const problems: string[] = [];
    for (const source of sources) {
      if (store.bundles.has(source.trustDomain)) {
        problems.push(`trust bundle ${source.trustDomain}: configured twice`);
        continue;
      }
      const bundle = await loadTrustBundle(source);
      if (typeof bundle === 'string') problems.push(bundle);
      else store.bundles.set(source.trustDomain, bundle);
    }
    return { store, problems };
  }

  /** The bundle of `trustDomain`, if configured. */
  get(trustDomain: string): TrustBundle | undefined {
    return this.bundles.get(trustDomain);
  }

  /** Number of trust domains with a bundle. */
  get size(): number {
    return this.sources.length;
  }

  /** True when some bundle carries JWT-SVID keys. */
  hasJwtAuthorities(): boolean {
    return [...this.bundles.values()].some((b) => b.jwtKeys !== null);
  }

  /** Starts polling the bundle files; a bad new file is logged and the previous bundle kept. */
  watch(intervalMs: number): void {
    const files = this.sources.flatMap((s) =>
      s.intermediatesFile ? [s.file, s.intermediatesFile] : [s.file],
    );
    if (files.length === 0) return;
    this.watcher = watchFiles(files, intervalMs, (path) => {
      for (const source of this.sources) {
        if (source.file === path || source.intermediatesFile === path) void this.reload(source);
      }
    });
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private async reload(source: TrustBundleSource): Promise<void> {
    const bundle = await loadTrustBundle(source);
    if (typeof bundle === 'string') {
      this.logger.error({ err: { code: 'config_invalid' }, trustDomain: source.trustDomain }, bundle);
      return;
    }
    this.bundles.set(source.trustDomain, bundle);
    this.version++;
    this.logger.info(
      { trustDomain: source.trustDomain, authorities: bundle.authorities.length, version: this.version },
      'trust bundle reloaded',
    );
  }
}
