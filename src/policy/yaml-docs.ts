/**
 * YAML/JSON parsing with positions: schema problems (zod paths) and CEL errors (offsets inside a
 * scalar) map back to file:line:column through the document's node tree, which the compiler
 * releases once it has the positions it always needs (`detachDoc`).
 */
import { Document, isMap, isNode, isPair, isScalar, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { yamlTooDeep } from './limits.js';
import type { Problem } from './types.js';

/** A path inside a document (`['rules', 2, 'when']`). */
export type DocPath = readonly (string | number | symbol)[];

/** A parsed document with position lookup. */
export interface ParsedDoc {
  readonly file: string;
  /** Plain JS value of the document. */
  readonly value: unknown;
  /** Line/column of the node at `path` (or of its nearest existing ancestor). */
  locate(path: DocPath, preferKey?: boolean): { line: number; column: number };
  /** Maps an offset inside the string scalar at `path` to a file position. */
  locateInScalar(path: DocPath, offset: number): { line: number; column: number };
}

const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true } as const;

/** Formats a path as `rules[2].when`. */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Parses every document of a file; YAML errors become problems (the broken document is skipped). */
export function parseYamlDocs(file: string, text: string, problems: Problem[]): ParsedDoc[] {
  const deep = yamlTooDeep(text);
  if (deep !== undefined) {
    const before = text.slice(0, deep.offset);
    const line = before.split('\n').length;
    problems.push({
      file,
      line,
      column: deep.offset - before.lastIndexOf('\n'),
      path: '',
      message: `YAML: ${deep.message}`,
    });
    return [];
  }
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter: lc });
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [];
  const out: ParsedDoc[] = [];
  for (const [index, doc] of list.entries()) {
    if (doc.errors.length > 0) {
      // One syntax error cascades into dozens of follow-ups: report the first, count the rest.
      const e = doc.errors[0] as (typeof doc.errors)[number];
      const pos = lc.linePos(e.pos[0]);
      const more = doc.errors.length - 1;
      const tail =
        more === 0
          ? ''
          : more === 1
            ? ' (1 more YAML error follows from it)'
            : ` (${more} more YAML errors follow from it)`;
      problems.push({
        file,
        line: pos.line,
        column: pos.col,
        path: '',
        message: `YAML: ${firstLine(e.message)}${tail}`,
      });
      continue;
    }
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 50 });
    } catch (e) {
      problems.push({
        file,
        line: 1,
        column: 1,
        path: '',
        message: `YAML: ${firstLine((e as Error).message)}`,
      });
      continue;
    }
    out.push(new LoadedDoc(file, value, text, index, { doc, lc }));
  }
  return out;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** A document's node tree and the line index of its file. */
interface Tree {
  readonly doc: Document.Parsed;
  readonly lc: LineCounter;
}

function positionKey(path: DocPath, preferKey: boolean): string {
  return preferKey ? `${formatPath(path)}#key` : formatPath(path);
}

/**
 * A parsed document. Its YAML node tree is ~20x the size of the source text, so once the compiler
 * has taken the positions it always needs (`detach`), the tree is dropped and re-parsed from the
 * text only when a problem must be located elsewhere.
 */
class LoadedDoc implements ParsedDoc {
  private tree: Tree | undefined;
  private anchors: Map<string, { line: number; column: number }> | undefined;

  constructor(
    readonly file: string,
    readonly value: unknown,
    private readonly text: string,
    /** Position of the document among the file's documents. */
    private readonly index: number,
    tree: Tree,
  ) {
    this.tree = tree;
  }

  locate(path: DocPath, preferKey = false): { line: number; column: number } {
    const known = this.anchors?.get(positionKey(path, preferKey));
    if (known !== undefined) return known;
    const t = this.nodes();
    const node = nodeAt(t.doc, path, preferKey);
    return linePos(t.lc, node?.range?.[0] ?? 0);
  }

  locateInScalar(path: DocPath, offset: number): { line: number; column: number } {
    const t = this.nodes();
    const node = nodeAt(t.doc, path, false);
    if (!isScalar(node) || typeof node.value !== 'string' || !node.range)
      return linePos(t.lc, node?.range?.[0] ?? 0);
    const raw = this.text.slice(node.range[0], node.range[1]);
    return linePos(t.lc, alignOffset(node.value, raw, offset) + node.range[0]);
  }

  /** Keeps the positions of `anchors` and releases the node tree. */
  detach(anchors: readonly DocPath[]): void {
    if (this.tree === undefined) return;
    const m = new Map<string, { line: number; column: number }>();
    for (const path of anchors) m.set(positionKey(path, false), this.locate(path));
    this.anchors = m;
    this.tree = undefined;
  }

  private nodes(): Tree {
    if (this.tree === undefined) {
      const lc = new LineCounter();
      const docs = parseAllDocuments(this.text, { ...PARSE_OPTIONS, lineCounter: lc });
      const doc = Array.isArray(docs) ? docs[this.index] : undefined;
      // The text is the one parsed before, so the document is there; guard anyway.
      if (doc === undefined) return { doc: new Document() as Document.Parsed, lc };
      this.tree = { doc, lc };
    }
    return this.tree;
  }
}

/** Releases the node tree of a parsed document, keeping the positions at `anchors` (see LoadedDoc). */
export function detachDoc(doc: ParsedDoc, anchors: readonly DocPath[]): void {
  if (doc instanceof LoadedDoc) doc.detach(anchors);
}

function linePos(lc: LineCounter, offset: number): { line: number; column: number } {
  const p = lc.linePos(offset);
  return { line: p.line, column: p.col };
}

function nodeAt(doc: Document.Parsed, path: DocPath, preferKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined = isNode(node) ? node : undefined;
  for (let i = 0; i < path.length; i++) {
    if (!isMap(node) && !(isNode(node) && 'items' in node)) break;
    const key = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair === undefined) break;
      const last = i === path.length - 1;
      node = last && preferKey ? pair.key : pair.value;
    } else {
      node = (node as { items: unknown[] }).items[key as number];
    }
    if (isNode(node)) found = node;
    else break;
  }
  return found;
}

/**
 * Maps an offset in a scalar's value to an offset in its source text (quotes, block indicators,
 * indentation and folding skipped) by aligning characters in order.
 */
function alignOffset(value: string, raw: string, offset: number): number {
  let j = 0;
  for (let i = 0; i < value.length && i <= offset; i++) {
    const ch = value[i];
    let k = j;
    while (k < raw.length && raw[k] !== ch && !(ch === ' ' && raw[k] === '\n')) k++;
    if (k >= raw.length) continue;
    if (i === offset) return k;
    j = k + 1;
  }
  return Math.min(j, raw.length);
}
