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
  /**
   * Findings kept, by path (the string the finding holds, no key built per finding): one finding or,
   * for a path with several rules or modules, a list.
   */
  private readonly byPath = new Map<string, Finding | Finding[]>();
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
    const same = this.byPath.get(formatted);
    if (same && this.find(same, ruleId, module)) return;
    if (limited) this.perSeverity.set(level, kept + 1);
    const finding: Finding = { ruleId, severity: level, title: info.title, module, path: same ? pathOf(same) : formatted, message, remediation: info.remediation };
    this.findings.push(finding);
    if (!same) this.byPath.set(formatted, finding);
    else if (Array.isArray(same)) same.push(finding);
    else this.byPath.set(formatted, [same, finding]);
  }

  has(ruleId: string, module: string, path: readonly Segment[]): boolean {
    const same = this.byPath.get(formatPath(path));
    return same !== undefined && this.find(same, ruleId, module);
  }

  private find(same: Finding | Finding[], ruleId: string, module: string): boolean {
    if (!Array.isArray(same)) return same.ruleId === ruleId && same.module === module;
    return same.some((f) => f.ruleId === ruleId && f.module === module);
  }
}

function pathOf(same: Finding | Finding[]): string {
  return Array.isArray(same) ? same[0]!.path : same.path;
}
