import type { ContainerInspectInfo } from 'dockerode';
import { EDGE_AGENT_OWNER, LABEL_OWNER } from '../../rules/container';
import { connectDocker, inspectAllContainers, inspectContainer, resolveDockerHost } from '../docker/client';

/**
 * The containers edgeAgent runs (its owner label), plus edgeAgent itself, inspected through the
 * shared Docker client. `dockerHost` is the DOCKER_HOST-style setting ('' = DOCKER_HOST or the socket).
 */
export async function inspectEdgeContainers(dockerHost = '', timeoutMs = 10_000): Promise<ContainerInspectInfo[]> {
  const { docker } = await connectDocker({ dockerHost, timeoutMs });
  const owned = await inspectAllContainers(docker, { label: [`${LABEL_OWNER}=${EDGE_AGENT_OWNER}`] });
  if (owned.some((c) => c.Name === '/edgeAgent')) return owned;
  const agent = await inspectContainer(docker, 'edgeAgent');
  return agent ? [...owned, agent] : owned;
}

export function dockerEndpoint(dockerHost = ''): string {
  return resolveDockerHost(dockerHost);
}
