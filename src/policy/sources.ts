/** Classifies policy-directory files and parses them into documents by kind. */
import type { ProblemList } from './problems.js';
import type { PolicySource } from './types.js';
import { type DocPath, detachDoc, type ParsedDoc, parseYamlDocs } from './yaml-docs.js';

/** Is this file a `*_test.yaml` suite? */
export function isTestSuitePath(path: string): boolean {
  return /_test\.(ya?ml|json)$/.test(path);
}

/** Is this file a data document (under a `data/` folder)? */
export function isDataPath(path: string): boolean {
  return path.split('/').slice(0, -1).includes('data');
}

/** Is this a file the policy loader reads? */
export function isPolicyFile(path: string): boolean {
  return /\.(ya?ml|json)$/.test(path);
}

/** The key of a data document: its file name without extension. */
export function dataKey(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.(ya?ml|json)$/, '');
}

/** Documents of a source set, by kind. */
export interface ClassifiedDocs {
  readonly policies: ParsedDoc[];
  readonly roleBindings: ParsedDoc[];
  readonly derivedRoles: ParsedDoc[];
  readonly data: { readonly key: string; readonly doc: ParsedDoc }[];
}

const KINDS = ['Policy', 'RoleBindings', 'DerivedRoles'];

/**
 * The positions the compiler records for every document of a kind (origins of policies, rules,
 * bindings and derived roles); other positions are only needed for problems.
 */
function anchors(kind: string, v: Record<string, unknown>): DocPath[] {
  const list = (key: string) =>
    Array.isArray(v[key]) ? (v[key] as unknown[]).map((_, i): DocPath => [key, i]) : [];
  if (kind === 'Policy') return [[], ...list('rules')];
  if (kind === 'RoleBindings') return list('bindings');
  return list('definitions');
}

/**
 * Parses and classifies every non-test source; problems go to `errors`. Documents keep only the
 * positions the compiler records (see detachDoc).
 */
export function classifySources(sources: readonly PolicySource[], errors: ProblemList): ClassifiedDocs {
  const out: ClassifiedDocs = { policies: [], roleBindings: [], derivedRoles: [], data: [] };
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const src of sorted) {
    if (isTestSuitePath(src.path) || !isPolicyFile(src.path)) continue;
    const docs = parseYamlDocs(src.path, src.text, errors.list);
    if (isDataPath(src.path)) {
      if (docs.length !== 1 && !(docs.length === 0 && errors.list.some((p) => p.file === src.path))) {
        errors.list.push({
          file: src.path,
          line: 1,
          column: 1,
          path: '',
          message: `a data file must hold exactly one document (found ${docs.length})`,
        });
      }
      const first = docs[0];
      if (first) {
        detachDoc(first, []);
        out.data.push({ key: dataKey(src.path), doc: first });
      }
      continue;
    }
    for (const doc of docs) {
      const v = doc.value;
      const kind =
        typeof v === 'object' && v !== null && !Array.isArray(v)
          ? (v as Record<string, unknown>).kind
          : undefined;
      if (kind === 'Policy' || kind === 'RoleBindings' || kind === 'DerivedRoles')
        detachDoc(doc, anchors(kind, v as Record<string, unknown>));
      if (kind === 'Policy') out.policies.push(doc);
      else if (kind === 'RoleBindings') out.roleBindings.push(doc);
      else if (kind === 'DerivedRoles') out.derivedRoles.push(doc);
      else if (kind === 'TestSuite')
        errors.at(doc, ['kind'], 'TestSuite documents belong in *_test.yaml files');
      else if (typeof v !== 'object' || v === null || Array.isArray(v))
        errors.at(doc, [], 'a policy document must be a mapping with apiVersion and kind');
      else
        errors.at(
          doc,
          ['kind'],
          `unknown kind ${JSON.stringify(kind ?? null)} (expected one of ${KINDS.join(', ')})`,
        );
    }
  }
  return out;
}
