import type { ContainerInspectInfo } from 'dockerode';
import { EDGE_AGENT_OWNER, LABEL_OWNER } from '../../rules/container';

/**
 * The containers edgeAgent runs, inspected. Uses dockerode directly (DOCKER_HOST, else
 * /var/run/docker.sock); a shared Docker client did not exist when this source was written.
 */
export async function inspectEdgeContainers(timeoutMs = 10_000): Promise<ContainerInspectInfo[]> {
  // Loaded here, not at module load: the CLI and tests that never touch Docker do not pay for it.
  const Docker = require('dockerode') as typeof import('dockerode');
  const docker = process.env.DOCKER_HOST ? new Docker({ timeout: timeoutMs }) : new Docker({ socketPath: '/var/run/docker.sock', timeout: timeoutMs });
  const list = await docker.listContainers({ all: true });
  const wanted = list.filter((c) => c.Labels?.[LABEL_OWNER] === EDGE_AGENT_OWNER || c.Names?.includes('/edgeAgent'));
  const inspected: ContainerInspectInfo[] = [];
  for (const c of wanted) {
    try {
      inspected.push(await docker.getContainer(c.Id).inspect());
    } catch (error) {
      // Removed between list and inspect: skip it, the next run sees the new state.
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
  return inspected;
}

export function dockerEndpoint(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}
