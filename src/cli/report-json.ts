import { SEVERITIES, type Severity } from '../rules/finding';
import type { ScannedFile } from './scan-files';
import { escapeJsonOutput } from '../core/text-escape';
import { jsonChunks, mapLazily, StreamedArray } from './report-stream';

/** Bump when a field changes meaning or disappears; adding fields does not bump it. */
export const JSON_FORMAT_VERSION = 1;

/** The `--format json` document (documented in docs/manifest-analysis.md). */
export function formatJson(files: readonly ScannedFile[], toolVersion: string): string {
  return [...jsonReport(files, toolVersion)].join('');
}

/** formatJson in pieces, each finding built as it is written. */
export function* jsonReport(files: readonly ScannedFile[], toolVersion: string): Generator<string> {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let findings = 0;
  for (const f of files) for (const x of f.findings) {
    bySeverity[x.severity]++;
    findings++;
  }
  const doc = {
    formatVersion: JSON_FORMAT_VERSION,
    tool: { name: 'edgeguard', version: toolVersion },
    files: new StreamedArray(() => mapLazily(files, (f) => ({
      file: f.file,
      error: f.error ? { message: f.error.message, line: f.error.line ?? null, column: f.error.column ?? null } : null,
      findings: new StreamedArray(() => mapLazily(f.findings, (x) => ({
        ruleId: x.ruleId,
        severity: x.severity,
        title: x.title,
        module: x.module,
        path: x.path,
        line: x.line ?? null,
        column: x.column ?? null,
        message: x.message,
        remediation: x.remediation,
      }))),
    }))),
    summary: { files: files.length, errors: files.filter((f) => f.error).length, findings, bySeverity },
  };
  for (const chunk of jsonChunks(doc)) yield escapeJsonOutput(chunk);
  yield '\n';
}
