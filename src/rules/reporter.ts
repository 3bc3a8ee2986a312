import { ruleInfo } from './catalogue';
import type { Finding, Severity } from './finding';
import { formatPath, type Segment } from './json-path';

/**
 * Collects findings; title and remediation come from the catalogue, never from the checks. With
 * `limitPerSeverity`, at most that many findings of each severity are kept (the rest only counted
 * in `dropped`): memory stays bounded however many modules a hostile manifest holds.
 */
export class Reporter {
  readonly findings: Finding[] = [];
  /** Findings left out by the limit (a duplicate of a left-out finding may be counted twice). */
  dropped = 0;
  private readonly seen = new Set<string>();
  private readonly perSeverity = new Map<Severity, number>();

  constructor(private readonly limitPerSeverity = Infinity) {}

  add(ruleId: string, module: string, path: readonly Segment[], message: string, severity?: Severity): void {
    const info = ruleInfo(ruleId);
    const level = severity ?? info.severity;
    const limited = this.limitPerSeverity !== Infinity;
    const kept = limited ? (this.perSeverity.get(level) ?? 0) : 0;
    if (limited && kept >= this.limitPerSeverity) {
      this.dropped++;
      return;
    }
    const formatted = formatPath(path);
    const key = `${ruleId}\u0000${module}\u0000${formatted}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (limited) this.perSeverity.set(level, kept + 1);
    this.findings.push({ ruleId, severity: level, title: info.title, module, path: formatted, message, remediation: info.remediation });
  }

  has(ruleId: string, module: string, path: readonly Segment[]): boolean {
    return this.seen.has(`${ruleId}\u0000${module}\u0000${formatPath(path)}`);
  }
}
