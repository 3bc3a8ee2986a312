import { analyseContainerInto, deploymentFromContainers, type InspectLike } from './container';
import { analyseDeploymentInto } from './deployment';
import { severityRank, type Finding } from './finding';
import { applyOverrides, type RuleOverrides } from './overrides';
import { Reporter } from './reporter';

export type { Finding, Severity } from './finding';
export { SEVERITIES, severityRank } from './finding';
export { catalogue, ruleInfo, type RuleInfo } from './catalogue';
export { deploymentFromContainers, specFromContainer, containerModuleName, type InspectLike } from './container';
export { parseRuleOverrides, parseRuleOverridesText, applyOverrides, RuleConfigError, type RuleOverride, type RuleOverrides } from './overrides';
export { parseJsonText, JsonSyntaxError, type ParsedJson, type TextPosition } from './json-text';
export { formatPath, parsePath, type Segment } from './json-path';

export interface AnalyseOptions {
  /** Suppressions and re-gradings (see parseRuleOverrides). */
  overrides?: RuleOverrides;
  /** Keep at most this many findings per severity (the module's bound on a hostile manifest); default all. */
  maxFindingsPerSeverity?: number;
  /** Told how many findings the limit left out (only called when some were). */
  onDropped?: (count: number) => void;
}

export interface DeploymentOptions extends AnalyseOptions {
  /** The document was rebuilt from running containers (deploymentFromContainers): file-only rules are skipped. */
  running?: boolean;
}

/**
 * The order of String.prototype.localeCompare, without building a collator on every comparison.
 * Created on first use: loading ICU's collation data costs 10–30 ms, not to be paid at import.
 */
let collator: Intl.Collator | undefined;

/** localeCompare's order; equal strings (most modules and rule IDs in a sort) skip the collator. */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  collator ??= new Intl.Collator();
  return collator.compare(a, b);
}

/** Most severe first, then by module, rule and path: stable output for people and diffs. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) => severityRank(a.severity) - severityRank(b.severity) || compareText(a.module, b.module) || compareText(a.ruleId, b.ruleId) || compareText(a.path, b.path),
  );
}

function guarded(run: (r: Reporter) => void, options: AnalyseOptions): Finding[] {
  const r = new Reporter(options.maxFindingsPerSeverity);
  run(r);
  if (r.dropped > 0) options.onDropped?.(r.dropped);
  return sortFindings(applyOverrides(r.findings, options.overrides));
}

/**
 * Every rule of the catalogue over a deployment: a full deployment (`modulesContent` or
 * `content.modulesContent`), a template, a deployed manifest (chunked createOptions), a layered
 * deployment, or the output of deploymentFromContainers (with `running: true`). Never throws on
 * bad input: what is wrong becomes M-findings.
 */
export function analyseDeployment(doc: unknown, options: DeploymentOptions = {}): Finding[] {
  return guarded((r) => analyseDeploymentInto(r, doc, { running: options.running }), options);
}

/** The container rules (C, R, N, I, S, H) over one `docker inspect`; paths like `$.HostConfig.Privileged`. */
export function analyseContainer(inspect: InspectLike, options: AnalyseOptions = {}): Finding[] {
  return guarded((r) => analyseContainerInto(r, inspect), options);
}

/** The running deployment: containers edgeAgent owns, rebuilt into a deployment and analysed. */
export function analyseRunningDeployment(inspects: readonly InspectLike[], options: AnalyseOptions = {}): Finding[] {
  return analyseDeployment(deploymentFromContainers(inspects), { ...options, running: true });
}
