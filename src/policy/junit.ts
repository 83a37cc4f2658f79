/** JUnit XML for CI systems (`portcullis test --junit out.xml`). */
import type { TestRunResult } from './test-runner.js';

function esc(s: string): string {
  return s
    .replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** Renders the run as one `<testsuite>` per suite file; compile problems as a failed pseudo-suite. */
export function toJUnitXml(r: TestRunResult): string {
  const byFile = new Map<string, TestRunResult['cases'][number][]>();
  for (const c of r.cases) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const failures = r.cases.filter((c) => !c.passed).length + (r.problems.length > 0 ? 1 : 0);
  out.push(
    `<testsuites name="portcullis policy tests" tests="${r.cases.length + (r.problems.length > 0 ? 1 : 0)}" failures="${failures}">`,
  );
  if (r.problems.length > 0) {
    const text = r.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n');
    out.push('  <testsuite name="compile" tests="1" failures="1">');
    out.push(
      `    <testcase classname="compile" name="policies compile"><failure message="${r.problems.length} problem(s)">${esc(text)}</failure></testcase>`,
    );
    out.push('  </testsuite>');
  }
  for (const [file, cases] of byFile) {
    const failed = cases.filter((c) => !c.passed).length;
    out.push(`  <testsuite name="${esc(file)}" tests="${cases.length}" failures="${failed}">`);
    for (const c of cases) {
      const open = `    <testcase classname="${esc(c.suite)}" name="${esc(c.name)}" file="${esc(file)}" line="${c.line}"`;
      if (c.passed) out.push(`${open}/>`);
      else
        out.push(
          `${open}><failure message="${esc(c.failures[0] ?? 'failed')}">${esc(c.failures.join('\n'))}</failure></testcase>`,
        );
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
