/**
 * The parts of Envoy's CheckRequest that normalize and the content limits read, as plain shapes.
 * A protobuf-es `CheckRequest` message satisfies them, and so does what `decodeCheckRequest`
 * (check-request-decoder.ts) builds straight from the wire without creating messages.
 */
import type { JsonObject } from '@bufbuild/protobuf';

/** `envoy.config.core.v3.SocketAddress`: the address and the port (when given as a number). */
export interface SocketAddressView {
  readonly address: string;
  readonly portSpecifier:
    | { readonly case: 'portValue'; readonly value: number }
    | { readonly case: 'namedPort' | undefined };
}

/** `envoy.config.core.v3.Address`: only a socket address carries an IP and a port. */
export interface AddressView {
  readonly address:
    | { readonly case: 'socketAddress'; readonly value: SocketAddressView }
    | { readonly case: 'pipe' | 'envoyInternalAddress' | undefined };
}

/** `AttributeContext.Peer` (contract facts 4–7). */
export interface PeerView {
  readonly address?: AddressView | undefined;
  readonly service: string;
  readonly labels: { readonly [key: string]: string };
  readonly principal: string;
  readonly certificate: string;
}

/** `envoy.config.core.v3.HeaderValue` of a `header_map` (contract fact 13). */
export interface HeaderValueView {
  readonly key: string;
  readonly value: string;
  readonly rawValue: Uint8Array;
}

/** `AttributeContext.HttpRequest` (contract facts 9–14). */
export interface HttpRequestView {
  readonly id: string;
  readonly method: string;
  readonly headers: { readonly [key: string]: string };
  readonly headerMap?: { readonly headers: readonly HeaderValueView[] } | undefined;
  readonly path: string;
  readonly host: string;
  readonly scheme: string;
  readonly size: bigint;
  readonly protocol: string;
  readonly body: string;
  readonly rawBody: Uint8Array;
  /**
   * Set by the decoder only: whether some `headers` key contains an ASCII upper-case letter
   * (undefined: not known, scan the keys).
   */
  readonly headersHaveUpper?: boolean;
  /**
   * Set by the decoder only: header entries decoded (`headers` entries plus `header_map` values)
   * and their names + values in UTF-16 units, counted like the content limits count them. A
   * repeated `headers` key overwrites the earlier entry, so these bound the real totals from above.
   */
  readonly headerEntries?: number;
  readonly headerEntryBytes?: number;
}

/** `envoy.config.core.v3.Metadata` (contract fact 16). */
export interface MetadataView {
  readonly filterMetadata: { readonly [namespace: string]: JsonObject };
}

/** `AttributeContext` as normalize reads it. */
export interface AttributeContextView {
  readonly source?: PeerView | undefined;
  readonly destination?: PeerView | undefined;
  readonly request?:
    | {
        readonly time?: { readonly seconds: bigint; readonly nanos: number } | undefined;
        readonly http?: HttpRequestView | undefined;
      }
    | undefined;
  readonly contextExtensions: { readonly [key: string]: string };
  readonly metadataContext?: MetadataView | undefined;
  readonly routeMetadataContext?: MetadataView | undefined;
  readonly tlsSession?: { readonly sni: string } | undefined;
}

/** `envoy.service.auth.v3.CheckRequest` as normalize and the content limits read it. */
export interface CheckRequestView {
  readonly attributes?: AttributeContextView | undefined;
}
