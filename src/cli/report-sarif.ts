import { createHash } from 'node:crypto';
import { catalogue } from '../rules/catalogue';
import type { ScannedFile } from './scan-files';
import { SARIF_LEVEL, SECURITY_SEVERITY } from './severity-style';
import { escapeJsonOutput } from '../core/text-escape';
import { jsonChunks, mapLazily, StreamedArray } from './report-stream';

function fingerprint(ruleId: string, module: string, path: string): string {
  return createHash('sha256').update(`${ruleId}\u0000${module}\u0000${path}`).digest('hex').slice(0, 32);
}

/**
 * SARIF 2.1.0 log: one run, every catalogue rule in tool.driver.rules, results located at the line
 * of the offending setting (relative URIs against %SRCROOT%, the directory the scan ran in) so
 * GitHub and Azure DevOps code scanning show them in place.
 */
export function formatSarif(files: readonly ScannedFile[], toolVersion: string, cwd: string): string {
  return [...sarifReport(files, toolVersion, cwd)].join('');
}

/** formatSarif in pieces, each result built as it is written. */
export function* sarifReport(files: readonly ScannedFile[], toolVersion: string, cwd: string): Generator<string> {
  const rules = [...catalogue().rules.values()];
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results = new StreamedArray(function* () {
    for (const file of files) yield* mapLazily(file.findings, (f) => ({
      ruleId: f.ruleId,
      ruleIndex: index.get(f.ruleId) ?? -1,
      level: SARIF_LEVEL[f.severity],
      message: { text: `${f.title} in module ${f.module}: ${f.message}` },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: encodeURI(file.file), uriBaseId: '%SRCROOT%' },
            region: { startLine: f.line ?? 1, startColumn: f.column ?? 1 },
          },
          logicalLocations: [{ fullyQualifiedName: f.path, kind: 'member' }],
        },
      ],
      partialFingerprints: { 'edgeguardFinding/v1': fingerprint(f.ruleId, f.module, f.path) },
      properties: { severity: f.severity, module: f.module, jsonPath: f.path, 'security-severity': SECURITY_SEVERITY[f.severity] },
    }));
  });
  const notifications = files
    .filter((f) => f.error)
    .map((f) => ({
      level: 'error',
      message: { text: `${f.file}: ${f.error!.message}` },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: encodeURI(f.file), uriBaseId: '%SRCROOT%' },
            ...(f.error!.line ? { region: { startLine: f.error!.line, startColumn: f.error!.column ?? 1 } } : {}),
          },
        },
      ],
    }));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    // A StreamedArray of one run: the streamed results inside it are reached (see jsonChunks).
    runs: new StreamedArray(() => [
      {
        tool: {
          driver: {
            name: 'EdgeGuard',
            version: toolVersion,
            semanticVersion: toolVersion,
            rules: rules.map((r) => ({
              id: r.id,
              name: r.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : '')),
              shortDescription: { text: r.title },
              fullDescription: { text: `${r.title} (IoT Edge deployment rule ${r.id}).` },
              help: { text: r.remediation, markdown: `**${r.id} ${r.title}**\n\n${r.remediation}` },
              defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
              properties: { tags: ['security', 'iot-edge', 'deployment'], precision: 'high', 'problem.severity': SARIF_LEVEL[r.severity], 'security-severity': SECURITY_SEVERITY[r.severity], severity: r.severity },
            })),
          },
        },
        invocations: [{ executionSuccessful: notifications.length === 0, toolExecutionNotifications: notifications }],
        originalUriBaseIds: { '%SRCROOT%': { uri: `${pathToFileUri(cwd)}/` } },
        results,
      },
    ]),
  };
  for (const chunk of jsonChunks(log)) yield escapeJsonOutput(chunk);
  yield '\n';
}

function pathToFileUri(p: string): string {
  return `file://${encodeURI(p.split('\\').join('/')).replace(/\/$/, '')}`;
}
