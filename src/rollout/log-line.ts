/**
 * Reads one decision-log line for replay. A fast path takes the recorded outcome with one anchored
 * regex and JSON-parses only the `input` object (most of a line's parse time otherwise goes to
 * fields replay never reads); any line it cannot read with certainty falls back to a full parse.
 */

/** The fields of a decision line replay uses. */
export interface LoggedDecision {
  readonly allowed: boolean;
  readonly status: number;
  readonly reason: string;
  readonly policy: string;
  readonly ruleIds: readonly string[];
  readonly requestId: string;
  /** The replayable input (undefined when the line has none). */
  readonly input: unknown;
  readonly redactedOrTruncated: boolean;
}

/** A parsed line: a decision, something else (process log…), or not JSON. */
export type ParsedLine =
  | { readonly kind: 'decision'; readonly d: LoggedDecision }
  | { readonly kind: 'other' }
  | { readonly kind: 'invalid' };

const JSON_STR = '"((?:[^"\\\\]|\\\\.)*)"';
// The decision-line builder writes these keys in this order; a numeric status cannot come from a
// (string-valued) query parameter, so the match is the top-level outcome.
const OUTCOME = new RegExp(
  `"decision":"(allow|deny)","status":(\\d+),"reason":${JSON_STR},"policy":${JSON_STR},"ruleIds":\\[((?:${JSON_STR},?)*)\\]`,
);
const REQUEST_ID = new RegExp(`^\\{[^]*?"requestId":${JSON_STR}`);
const INPUT = ',"input":{';
const AFTER_INPUT = ',"redacted":';

const unquote = (s: string) => (s.includes('\\') ? (JSON.parse(`"${s}"`) as string) : s);

function fast(text: string): ParsedLine | undefined {
  if (!text.endsWith('"msg":"decision"}')) return undefined;
  const at = text.indexOf(INPUT);
  if (at < 0) return undefined;
  // The builder writes `redacted` right after `input`; the last occurrence is that top-level key.
  const end = text.lastIndexOf(AFTER_INPUT);
  if (end < at) return undefined;
  const head = text.slice(0, at);
  const m = OUTCOME.exec(head);
  const r = REQUEST_ID.exec(head);
  if (m === null || r === null) return undefined;
  let input: unknown;
  try {
    // A wrong boundary (keys in another order) leaves braces open or extra text: the parse fails.
    input = JSON.parse(text.slice(at + INPUT.length - 1, end));
  } catch {
    return undefined;
  }
  const tail = text.slice(end);
  return {
    kind: 'decision',
    d: {
      allowed: m[1] === 'allow',
      status: Number(m[2]),
      reason: unquote(m[3] as string),
      policy: unquote(m[4] as string),
      ruleIds: m[5] === '' ? [] : (JSON.parse(`[${m[5]}]`) as string[]),
      requestId: unquote(r[1] as string),
      input,
      redactedOrTruncated: tail.includes('"redacted":true') || tail.includes('"truncated":true'),
    },
  };
}

function full(text: string): ParsedLine {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { kind: 'invalid' };
  }
  if (typeof rec !== 'object' || rec === null || rec.msg !== 'decision' || rec.input === undefined)
    return { kind: 'other' };
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    kind: 'decision',
    d: {
      allowed: rec.decision === 'allow',
      status: typeof rec.status === 'number' ? rec.status : 0,
      reason: s(rec.reason),
      policy: s(rec.policy),
      ruleIds: Array.isArray(rec.ruleIds)
        ? rec.ruleIds.filter((x): x is string => typeof x === 'string')
        : [],
      requestId: s(rec.requestId),
      input: rec.input,
      redactedOrTruncated: rec.redacted === true || rec.truncated === true,
    },
  };
}

/** Parses one log line (fast path first, full JSON parse as the fallback). */
export function parseLogLine(text: string): ParsedLine {
  return fast(text) ?? full(text);
}

/** Time and decision id of a line, for the few lines shown as examples (full parse). */
export function lineIdentity(text: string): { time: string; decisionId: string } {
  try {
    const rec = JSON.parse(text) as { time?: unknown; decisionId?: unknown };
    return {
      time: typeof rec.time === 'string' ? rec.time : '',
      decisionId: typeof rec.decisionId === 'string' ? rec.decisionId : '',
    };
  } catch {
    return { time: '', decisionId: '' };
  }
}
