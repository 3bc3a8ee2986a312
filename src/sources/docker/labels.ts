import { EDGE_AGENT_OWNER, LABEL_MODULE, LABEL_OWNER } from '../../rules/container';

/**
 * The IoT Edge module a container runs, from the labels edgeAgent writes; undefined for a container
 * edgeAgent does not own. `name` may carry Docker's leading slash.
 */
export function edgeModuleName(labels: Readonly<Record<string, string>> | null | undefined, name: string | undefined): string | undefined {
  const module = labels?.[LABEL_MODULE];
  if (module) return module;
  if (labels?.[LABEL_OWNER] === EDGE_AGENT_OWNER && name) return name.replace(/^\//, '');
  return undefined;
}
