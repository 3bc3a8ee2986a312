import type { ContainerInspectInfo } from 'dockerode';
import { EDGE_AGENT_OWNER, LABEL_OWNER } from '../../rules/container';
import type Dockerode from 'dockerode';
import { connectDocker, inspectAllContainers, inspectContainer, resolveDockerHost } from '../docker/client';

/** The containers edgeAgent runs (its owner label), plus edgeAgent itself, inspected. */
export async function inspectEdgeContainersWith(docker: Dockerode): Promise<ContainerInspectInfo[]> {
  const owned = await inspectAllContainers(docker, { label: [`${LABEL_OWNER}=${EDGE_AGENT_OWNER}`] });
  if (owned.some((c) => c.Name === '/edgeAgent')) return owned;
  const agent = await inspectContainer(docker, 'edgeAgent');
  return agent ? [...owned, agent] : owned;
}

/**
 * The same through a client of its own. `dockerHost` is the DOCKER_HOST-style setting ('' = DOCKER_HOST
 * or the socket).
 */
export async function inspectEdgeContainers(dockerHost = '', timeoutMs = 10_000): Promise<ContainerInspectInfo[]> {
  const { docker } = await connectDocker({ dockerHost, timeoutMs });
  return inspectEdgeContainersWith(docker);
}

/**
 * A connection kept between analyses (one /version handshake, not one per poll), dropped after a
 * failure so the next poll connects again.
 */
export class EdgeContainerReader {
  private docker?: Dockerode;

  constructor(private readonly dockerHost: string) {}

  async read(): Promise<ContainerInspectInfo[]> {
    this.docker ??= (await connectDocker({ dockerHost: this.dockerHost })).docker;
    try {
      return await inspectEdgeContainersWith(this.docker);
    } catch (error) {
      this.docker = undefined;
      throw error;
    }
  }
}

export function dockerEndpoint(dockerHost = ''): string {
  return resolveDockerHost(dockerHost);
}
