import type { ContainerInspectInfo } from 'dockerode';
import type { ModuleRole } from './catalogue';
import { checkImage } from './checks/images';
import { checkIsolation } from './checks/isolation';
import { checkNetwork } from './checks/network';
import { checkResources } from './checks/resources';
import { checkRuntimeModule } from './checks/runtime';
import { checkEnvSecrets, contextOf, scanString } from './checks/secrets';
import type { Segment } from './json-path';
import { parseJsonFast } from './json-text';
import { envFromList, getKey, isObject, walkStrings, type Json, type ModuleSpec, type MountSpec } from './model';
import type { Reporter } from './reporter';

export const LABEL_OWNER = 'net.azure-devices.edge.owner';
export const EDGE_AGENT_OWNER = 'Microsoft.Azure.Devices.Edge.Agent';
export const LABEL_ORIGINAL_IMAGE = 'net.azure-devices.edge.original-image';
export const LABEL_CREATE_OPTIONS = 'net.azure-devices.edge.create-options';
export const LABEL_ENV = 'net.azure-devices.edge.env';
export const LABEL_MODULE = 'net.azure-devices.edge.module';

/** The parts of `docker inspect` the rules read; anything may be missing in bad input. */
export type InspectLike = Partial<ContainerInspectInfo> | Json;

function labels(inspect: InspectLike): Json {
  const l = getKey(getKey(inspect, 'Config')?.value, 'Labels')?.value;
  return isObject(l) ? l : {};
}

function label(inspect: InspectLike, name: string): string | undefined {
  const v = labels(inspect)[name];
  return typeof v === 'string' ? v : undefined;
}

export function containerModuleName(inspect: InspectLike): string {
  const fromLabel = label(inspect, LABEL_MODULE);
  if (fromLabel) return fromLabel;
  const name = getKey(inspect, 'Name')?.value;
  if (typeof name === 'string' && name.trim() !== '') return name.replace(/^\//, '');
  const id = getKey(inspect, 'Id')?.value;
  return typeof id === 'string' ? id.slice(0, 12) : 'container';
}

function containerImage(inspect: InspectLike): string {
  const v = label(inspect, LABEL_ORIGINAL_IMAGE) ?? getKey(getKey(inspect, 'Config')?.value, 'Image')?.value;
  return typeof v === 'string' ? v : '';
}

export function containerRole(inspect: InspectLike): ModuleRole {
  const name = containerModuleName(inspect);
  const image = containerImage(inspect);
  if (name === 'edgeAgent' || /\/azureiotedge-agent[:@]/.test(`/${image}`)) return 'edgeAgent';
  if (name === 'edgeHub' || /\/azureiotedge-hub[:@]/.test(`/${image}`)) return 'edgeHub';
  return 'module';
}

/** Container create options as docker inspect shows them (Config + HostConfig + networks). */
export function createOptionsOf(inspect: InspectLike): Json {
  const config = getKey(inspect, 'Config')?.value;
  const out: Json = {};
  for (const key of ['User', 'Env', 'Cmd', 'Entrypoint', 'ExposedPorts', 'Labels']) {
    const v = getKey(config, key)?.value;
    if (v !== undefined && v !== null && v !== '') out[key] = v;
  }
  const hostConfig = getKey(inspect, 'HostConfig')?.value;
  if (isObject(hostConfig)) out.HostConfig = hostConfig;
  const networks = getKey(getKey(inspect, 'NetworkSettings')?.value, 'Networks')?.value;
  if (isObject(networks)) out.NetworkingConfig = { EndpointsConfig: networks };
  return out;
}

function inspectPath(segments: Segment[]): Segment[] {
  const [first, ...rest] = segments;
  if (first === undefined) return [];
  if (first === 'HostConfig') return segments;
  if (first === 'NetworkingConfig') return ['NetworkSettings', 'Networks', ...rest.slice(1)];
  return ['Config', ...segments];
}

function inspectMounts(inspect: InspectLike): MountSpec[] {
  const mounts = getKey(inspect, 'Mounts')?.value;
  if (!Array.isArray(mounts)) return [];
  const out: MountSpec[] = [];
  mounts.forEach((m, i) => {
    if (!isObject(m)) return;
    const type = String(m.Type ?? '').toLowerCase();
    const source = type === 'volume' && typeof m.Name === 'string' ? m.Name : m.Source;
    if (typeof source !== 'string') return;
    out.push({
      source,
      target: typeof m.Destination === 'string' ? m.Destination : '',
      readOnly: m.RW === false,
      propagation: typeof m.Propagation === 'string' ? m.Propagation.toLowerCase() : '',
      kind: type === 'bind' ? 'bind' : type === 'volume' ? 'volume' : 'other',
      path: ['Mounts', i, 'Source'],
    });
  });
  return out;
}

/** docker inspect -> the same module model the manifest rules read; paths like $.HostConfig.Privileged. */
export function specFromContainer(inspect: InspectLike): ModuleSpec {
  const create = createOptionsOf(inspect);
  const originalImage = label(inspect, LABEL_ORIGINAL_IMAGE);
  const configImage = getKey(getKey(inspect, 'Config')?.value, 'Image')?.value;
  return {
    name: containerModuleName(inspect),
    role: containerRole(inspect),
    origin: 'container',
    create,
    at: (...segments) => inspectPath(segments),
    basePath: [],
    image: originalImage
      ? { value: originalImage, path: ['Config', 'Labels', LABEL_ORIGINAL_IMAGE] }
      : typeof configImage === 'string'
        ? { value: configImage, path: ['Config', 'Image'] }
        : undefined,
    env: envFromList(create.Env, ['Config', 'Env']),
    mounts: inspectMounts(inspect),
  };
}

export function analyseContainerInto(r: Reporter, inspect: InspectLike): void {
  const spec = specFromContainer(inspect);
  checkIsolation(r, spec);
  checkResources(r, spec);
  checkNetwork(r, spec);
  checkImage(r, spec);
  checkRuntimeModule(r, spec);
  for (const field of ['Env', 'Cmd', 'Entrypoint', 'Labels']) {
    const value = spec.create[field];
    walkStrings(value, [field], (text, rel) => {
      const path = inspectPath(rel);
      scanString(r, contextOf(text, path, field === 'Env' && rel.length === 2), path, spec.name, spec.role);
    });
  }
  checkEnvSecrets(r, spec);
}

/** edgeAgent's env label: `{"Name":{"value":"…"}}` (or plain strings). */
function parseEnvLabel(text: string | undefined): Record<string, { value: string }> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = parseJsonFast(text);
  } catch {
    return {};
  }
  const out: Record<string, { value: string }> = {};
  if (!isObject(parsed)) return out;
  for (const [name, entry] of Object.entries(parsed)) {
    const v = isObject(entry) ? getKey(entry, 'value')?.value : entry;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = { value: String(v) };
  }
  return out;
}

function isEdgeModuleContainer(inspect: InspectLike): boolean {
  return label(inspect, LABEL_OWNER) === EDGE_AGENT_OWNER || containerModuleName(inspect) === 'edgeAgent';
}

/**
 * The effective deployment, rebuilt from the containers edgeAgent runs: a modulesContent document
 * the manifest rules read like any other. Containers not owned by edgeAgent are left out.
 */
export function deploymentFromContainers(inspects: readonly InspectLike[]): Json {
  const systemModules: Json = {};
  const modules: Json = {};
  for (const inspect of inspects) {
    if (!isObject(inspect) || !isEdgeModuleContainer(inspect)) continue;
    const name = containerModuleName(inspect);
    const role = containerRole(inspect);
    const createOptions = createOptionsOf(inspect);
    delete createOptions.Labels;
    const module: Json = { type: 'docker', settings: { image: containerImage(inspect), createOptions } };
    if (role === 'edgeAgent') {
      const env = parseEnvLabel(label(inspect, LABEL_ENV));
      if (Object.keys(env).length > 0) {
        module.env = env;
        const names = new Set(Object.keys(env));
        if (Array.isArray(createOptions.Env)) createOptions.Env = createOptions.Env.filter((e) => typeof e !== 'string' || !names.has(e.split('=')[0]!));
      }
      systemModules.edgeAgent = module;
    } else {
      const running = getKey(getKey(inspect, 'State')?.value, 'Running')?.value;
      module.status = running === false ? 'stopped' : 'running';
      if (role === 'edgeHub') systemModules.edgeHub = module;
      else modules[name] = module;
    }
  }
  return {
    modulesContent: {
      $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', runtime: { type: 'docker', settings: {} }, systemModules, modules } },
      $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {} } },
    },
  };
}
