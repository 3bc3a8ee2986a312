import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { TEST_LABEL } from './docker';
import { testDockerSocket } from './docker-host';
import { repoRoot } from './paths';

type Json = Record<string, unknown>;

/**
 * Adapted for a test on a shared machine: the template's /var/run/docker.sock bind gets the tests'
 * private engine socket as its source (same place in the container), and the named volume
 * `edgeguard-state` gets the run's suffix. Everything else is the template's.
 */
/** The edgeguard module of deployment.template.json, as edgeAgent turns it into a create request. */
export function createRequestFromTemplate(image: string, runId: string, extraEnv: Record<string, string>): { request: Dockerode.ContainerCreateOptions; volume: string } {
  const template = JSON.parse(readFileSync(path.join(repoRoot(), 'deployment.template.json'), 'utf8')) as Json;
  const modules = ((((template.modulesContent as Json).$edgeAgent as Json)['properties.desired'] as Json).modules as Json);
  const module = modules.edgeguard as { settings: { createOptions: Json | string }; env: Record<string, { value: string }> };
  const createOptions = (typeof module.settings.createOptions === 'string' ? JSON.parse(module.settings.createOptions) : structuredClone(module.settings.createOptions)) as Json;
  const hostConfig = createOptions.HostConfig as Json & { Binds: string[] };
  const volume = `edgeguard-state-${runId}`;
  hostConfig.Binds = hostConfig.Binds.map((bind) => {
    const [source, ...rest] = bind.split(':');
    if (source === '/var/run/docker.sock') return [testDockerSocket(), ...rest].join(':');
    if (source === 'edgeguard-state') return [volume, ...rest].join(':');
    return bind;
  });
  const env = { ...Object.fromEntries(Object.entries(module.env).map(([k, v]) => [k, v.value])), ...extraEnv };
  const request = {
    ...createOptions,
    name: `eg-e2e-${runId}`,
    Image: image,
    Env: [...((createOptions.Env as string[] | undefined) ?? []), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
    Labels: { ...((createOptions.Labels as Record<string, string> | undefined) ?? {}), [TEST_LABEL]: runId, 'net.azure-devices.edge.owner': 'Microsoft.Azure.Devices.Edge.Agent' },
  } as Dockerode.ContainerCreateOptions;
  return { request, volume };
}

