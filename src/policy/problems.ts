/** Collects compile problems with positions, and turns zod issues into located problems. */
import type { z } from 'zod';
import type { CheckIssue } from './cel-check.js';
import type { Problem } from './types.js';
import { type DocPath, formatPath, type ParsedDoc } from './yaml-docs.js';

/** Sorts problems by file, line, column, then message. */
export function sortProblems(list: Problem[]): Problem[] {
  return list.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** Formats a problem as `file:line:column: [rule] message (at path)`. */
export function formatProblem(p: Problem): string {
  const rule = p.ruleId ? ` [rule ${p.ruleId}]` : '';
  const at = p.path ? ` (at ${p.path})` : '';
  return `${p.file}:${p.line}:${p.column}:${rule} ${p.message}${at}`;
}

function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[k as string | number];
  }
  return v;
}

/** A problem sink bound to errors or warnings. */
export class ProblemList {
  readonly list: Problem[] = [];

  /** Adds a problem located at `path` in `doc`. */
  at(doc: ParsedDoc, path: DocPath, message: string, ruleId?: string, preferKey = false): void {
    const pos = doc.locate(path, preferKey);
    this.list.push({
      file: doc.file,
      line: pos.line,
      column: pos.column,
      path: formatPath(path),
      message,
      ...(ruleId ? { ruleId } : {}),
    });
  }

  /** Adds CEL issues found in the string scalar at `path`. */
  cel(doc: ParsedDoc, path: DocPath, issues: readonly CheckIssue[], ruleId?: string): void {
    for (const i of issues) {
      const pos = doc.locateInScalar(path, i.offset);
      this.list.push({
        file: doc.file,
        line: pos.line,
        column: pos.column,
        path: formatPath(path),
        message: i.message,
        ...(ruleId ? { ruleId } : {}),
      });
    }
  }

  /** Adds zod validation issues of `doc`. */
  zod(doc: ParsedDoc, issues: readonly z.core.$ZodIssue[], prefix: DocPath = []): void {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.at(doc, [...path, key], `unknown field '${key}'`, undefined, true);
      } else if (issue.code === 'invalid_type' && valueAt(doc.value, path) === undefined) {
        this.at(doc, path, `missing required field '${String(path[path.length - 1])}'`);
      } else if (issue.code === 'invalid_union') {
        this.union(doc, path, issue.errors, issue.message);
      } else {
        this.at(doc, path, issue.message);
      }
    }
  }

  /** Unions: "expected string or number" when every branch failed on the type, else the closest branch. */
  private union(
    doc: ParsedDoc,
    path: DocPath,
    branches: readonly (readonly z.core.$ZodIssue[])[],
    fallback: string,
  ): void {
    const typeOnly = branches.every(
      (b) => b.length === 1 && b[0]?.code === 'invalid_type' && b[0].path.length === 0,
    );
    if (typeOnly) {
      const expected = branches.map((b) => (b[0] as z.core.$ZodIssueInvalidType).expected);
      this.at(doc, path, `Invalid input: expected ${[...new Set(expected)].join(' or ')}`);
      return;
    }
    const closest = [...branches]
      .filter((b) => !(b.length === 1 && b[0]?.code === 'invalid_type' && b[0].path.length === 0))
      .sort((a, b) => a.length - b.length)[0];
    if (closest === undefined) this.at(doc, path, fallback);
    else this.zod(doc, closest, path);
  }
}
