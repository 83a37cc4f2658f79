/**
 * Size and nesting limits checked before parsing. Deep recursion in the YAML and CEL parsers can
 * exhaust the stack, and V8 aborts the whole process (not a catchable error) when that happens
 * while it compiles a regular expression: a policy must never be able to crash the sidecar or
 * the control plane. The limits are far above what a real policy needs (cel-go's parser uses a
 * recursion limit of 250).
 */

/** Deepest nesting of brackets or unary operators in a CEL expression. */
export const MAX_CEL_DEPTH = 64;
/** Longest CEL expression, in characters. */
export const MAX_CEL_LENGTH = 16_384;
/** Deepest nesting of YAML/JSON flow collections, and the widest indentation (columns). */
export const MAX_YAML_DEPTH = 64;
export const MAX_YAML_INDENT = 256;

/** Deepest parsed expression tree accepted (checked after parsing, iteratively). */
export const MAX_CEL_AST_DEPTH = 250;

/** Why a CEL expression is too complex to parse, or undefined (a cheap pre-parse scan). */
export function celTooComplex(src: string): string | undefined {
  if (src.length > MAX_CEL_LENGTH) return `expression is longer than ${MAX_CEL_LENGTH} characters`;
  let depth = 0;
  let unary = 0;
  let quote = '';
  for (let i = 0; i < src.length; i++) {
    const ch = src[i] as string;
    if (quote !== '') {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
      continue;
    }
    if (ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r') continue;
    if (ch === '!' || ch === '-') {
      if (++unary > MAX_CEL_DEPTH)
        return `expression repeats unary operators more than ${MAX_CEL_DEPTH} times`;
      continue;
    }
    unary = 0;
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(' || ch === '[' || ch === '{') {
      if (++depth > MAX_CEL_DEPTH) return `expression nests deeper than ${MAX_CEL_DEPTH} levels`;
    } else if (ch === ')' || ch === ']' || ch === '}') depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** Why a YAML/JSON text nests too deeply to parse safely, or undefined. Quotes are not tracked:
 * only a document with 64 unbalanced brackets in a row (never a real policy) is refused. */
export function yamlTooDeep(text: string): { offset: number; message: string } | undefined {
  let depth = 0;
  let indent = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 10) {
      lineStart = true;
      indent = 0;
    } else if (lineStart && ch === 32) {
      if (++indent > MAX_YAML_INDENT)
        return { offset: i, message: `indentation deeper than ${MAX_YAML_INDENT} columns` };
    } else {
      lineStart = false;
      if (ch === 91 || ch === 123) {
        if (++depth > MAX_YAML_DEPTH)
          return { offset: i, message: `collections nest deeper than ${MAX_YAML_DEPTH} levels` };
      } else if (ch === 93 || ch === 125) depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}
