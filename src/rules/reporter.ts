import { ruleInfo } from './catalogue';
import type { Finding, Severity } from './finding';
import { formatPath, type Segment } from './json-path';

/** Collects findings; title and remediation come from the catalogue, never from the checks. */
export class Reporter {
  readonly findings: Finding[] = [];
  private readonly seen = new Set<string>();

  add(ruleId: string, module: string, path: readonly Segment[], message: string, severity?: Severity): void {
    const info = ruleInfo(ruleId);
    const formatted = formatPath(path);
    const key = `${ruleId}\u0000${module}\u0000${formatted}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.findings.push({ ruleId, severity: severity ?? info.severity, title: info.title, module, path: formatted, message, remediation: info.remediation });
  }

  has(ruleId: string, module: string, path: readonly Segment[]): boolean {
    return this.seen.has(`${ruleId}\u0000${module}\u0000${formatPath(path)}`);
  }
}
