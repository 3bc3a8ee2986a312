import type { ContainerInspectInfo } from 'dockerode';
import type { PayloadItem } from '../../core/event';
import type { Finding } from '../../rules/finding';
import { edgeModuleName } from './labels';

type Json = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

function setIf(item: PayloadItem, key: string, value: unknown): void {
  if (value !== undefined) item[key] = value;
}

/** Docker's "0001-01-01T00:00:00Z" means never started. */
function startedAt(v: unknown): string | undefined {
  const s = str(v);
  return s && !s.startsWith('0001-01-01') ? s : undefined;
}

function mounts(inspect: Json): PayloadItem[] {
  const list = Array.isArray(inspect.Mounts) ? inspect.Mounts : [];
  return list.map((m) => {
    const mount = obj(m);
    const item: PayloadItem = {
      Type: str(mount.Type) ?? 'bind',
      Source: typeof mount.Source === 'string' ? mount.Source : '',
      Destination: typeof mount.Destination === 'string' ? mount.Destination : '',
      Mode: typeof mount.Mode === 'string' ? mount.Mode : '',
      ReadWrite: mount.RW !== false,
    };
    setIf(item, 'Propagation', str(mount.Propagation));
    setIf(item, 'VolumeName', str(mount.Name));
    return item;
  });
}

function devices(hostConfig: Json): PayloadItem[] {
  const list = Array.isArray(hostConfig.Devices) ? hostConfig.Devices : [];
  return list.map((d) => {
    const device = obj(d);
    return {
      PathOnHost: String(device.PathOnHost ?? ''),
      PathInContainer: String(device.PathInContainer ?? ''),
      CgroupPermissions: String(device.CgroupPermissions ?? ''),
    };
  });
}

function publishedPorts(hostConfig: Json): PayloadItem[] {
  const out: PayloadItem[] = [];
  for (const [key, bindings] of Object.entries(obj(hostConfig.PortBindings))) {
    const [port, protocol = 'tcp'] = key.split('/');
    for (const b of Array.isArray(bindings) ? bindings : []) {
      const binding = obj(b);
      out.push({ ContainerPort: Number(port), Protocol: protocol, HostIp: String(binding.HostIp ?? ''), HostPort: String(binding.HostPort ?? '') });
    }
  }
  return out;
}

/** The ContainerInventory payload item of one `docker inspect`, with the rule engine's findings. */
export function inventoryItem(info: ContainerInspectInfo, findings: readonly Finding[]): PayloadItem {
  // Read as plain JSON: a daemon may omit any field, whatever the type declarations say.
  const inspect = info as unknown as Json;
  const config = obj(inspect.Config);
  const hostConfig = obj(inspect.HostConfig);
  const state = obj(inspect.State);
  const labels = obj(config.Labels) as Record<string, string>;
  const name = (str(inspect.Name) ?? '').replace(/^\//, '');
  const item: PayloadItem = {
    ContainerId: String(inspect.Id ?? ''),
    ContainerName: name,
  };
  setIf(item, 'ModuleName', edgeModuleName(labels, name));
  Object.assign(item, {
    Image: String(config.Image ?? ''),
    ImageId: String(inspect.Image ?? ''),
    State: str(state.Status) ?? 'unknown',
  });
  setIf(item, 'StartedAt', startedAt(state.StartedAt));
  setIf(item, 'ExitCode', state.Running === true ? undefined : num(state.ExitCode));
  setIf(item, 'OOMKilled', state.OOMKilled === true ? true : undefined);
  Object.assign(item, {
    RestartCount: num(inspect.RestartCount) ?? 0,
    Privileged: hostConfig.Privileged === true,
    CapAdd: strings(hostConfig.CapAdd),
    CapDrop: strings(hostConfig.CapDrop),
    NetworkMode: str(hostConfig.NetworkMode) ?? 'default',
    PidMode: str(hostConfig.PidMode) ?? '',
    IpcMode: str(hostConfig.IpcMode) ?? '',
    UtsMode: str(hostConfig.UTSMode) ?? '',
    UsernsMode: str(hostConfig.UsernsMode) ?? '',
    Mounts: mounts(inspect),
    Devices: devices(hostConfig),
    PublishedPorts: publishedPorts(hostConfig),
    PublishAllPorts: hostConfig.PublishAllPorts === true,
    User: str(config.User) ?? '',
    SecurityOpt: strings(hostConfig.SecurityOpt),
    ReadonlyRootfs: hostConfig.ReadonlyRootfs === true,
    MemoryLimit: num(hostConfig.Memory) ?? 0,
    NanoCpus: num(hostConfig.NanoCpus) ?? 0,
    CpuQuota: num(hostConfig.CpuQuota) ?? 0,
    CpuShares: num(hostConfig.CpuShares) ?? 0,
    PidsLimit: num(hostConfig.PidsLimit) ?? 0,
    Findings: findings.map((f) => ({ RuleId: f.ruleId, Severity: f.severity, Title: f.title, Path: f.path })),
  });
  return item;
}
