/**
 * One decision log line: the fields SREs read, plus the replayable `input` (docs/observability.md).
 */

import type { JsonObject } from '../types.js';
import { type DecisionRecord, type LineOptions, replayInput, scrubQuery } from './decision-input.js';
import { type ScrubState, scrubText } from './redact.js';
import { traceIdFromTraceparent } from './trace-context.js';

/** Builds the JSON object of one decision log line (secret-free). */
export function buildDecisionLine(r: DecisionRecord, o: LineOptions, sampleRate: number): JsonObject {
  const s: ScrubState = { redacted: false, truncated: false };
  const max = o.maxStringLength;
  const d = r.decision;
  const query = o.includeQuery ? scrubQuery(r.input.request.query, o, s) : undefined;
  const input = replayInput(r, o, s, query);
  const source = input.source as JsonObject;
  const line: JsonObject = {
    time: new Date(r.timeMs).toISOString(),
    decisionId: r.decisionId,
    requestId: scrubText(r.input.requestId, s, max),
    traceId: r.traceId ?? traceIdFromTraceparent(r.input.traceparent),
    api: r.api,
    principalId: r.principal === undefined ? '' : scrubText(r.principal.id, s, max),
    principalType: r.principal?.type ?? 'anonymous',
    sourceSpiffeId: source.spiffeId ?? '',
    sourceAddress: r.input.source.address,
    method: (input.request as JsonObject).method ?? '',
    host: (input.request as JsonObject).host ?? '',
    path: (input.request as JsonObject).path ?? '',
  };
  if (query !== undefined) line.query = query;
  Object.assign(line, {
    decision: d.allowed ? 'allow' : 'deny',
    status: d.status,
    reason: d.reason,
    policy: scrubText(d.policy, s, max),
    ruleIds: d.ruleIds.map((id) => scrubText(id, s, max)),
    shadow: d.shadow.map((x) => ({
      ruleId: scrubText(x.ruleId, s, max),
      effect: x.effect,
      agrees: x.agrees,
    })),
    errors: d.errors.map((e) => scrubText(e, s, max)),
    bundleRevision: r.bundleRevision,
    latencyMicros: Math.round(r.latencyMicros),
    evalMicros: Math.round(d.evalMicros),
    sampleRate,
  });
  const c = r.candidate;
  if (c !== undefined)
    line.candidate = {
      decision: c.allowed ? 'allow' : 'deny',
      status: c.status,
      reason: c.reason,
      policy: scrubText(c.policy, s, max),
      ruleIds: c.ruleIds.map((id) => scrubText(id, s, max)),
      agrees: c.allowed === d.allowed,
    };
  const resource = input.resource as JsonObject | undefined;
  if (resource !== undefined) line.resource = { kind: resource.kind ?? '', id: resource.id ?? '' };
  if (r.action !== undefined) line.action = input.action ?? '';
  line.input = input;
  // Set after everything was scrubbed, so replay knows when the input is not the original.
  line.redacted = s.redacted;
  line.truncated = s.truncated;
  return line;
}
