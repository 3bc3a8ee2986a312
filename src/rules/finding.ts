/** Severities of the rule catalogue, most severe first. */
export const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One risky setting found in a deployment or a running container. Never holds a secret's value. */
export interface Finding {
  /** Catalogue ID (C01, S02, M02…) from shared docs/manifest-rules.md. */
  readonly ruleId: string;
  readonly severity: Severity;
  readonly title: string;
  /** Module name ($edgeAgent, $edgeHub, or the module / container name). */
  readonly module: string;
  /** JSON path of the offending setting, e.g. $.modulesContent.$edgeAgent.properties.desired.modules.x.settings.createOptions.HostConfig.Privileged */
  readonly path: string;
  /** One line: what is wrong, here. */
  readonly message: string;
  readonly remediation: string;
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}
