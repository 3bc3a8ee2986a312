import type { PayloadItem, SecurityEvent } from '../core/event';

/** What a rule condition looks at: one payload item of one event. */
export interface EventView {
  readonly event: SecurityEvent;
  readonly item: PayloadItem;
  /** When EdgeGuard observed the event (ms since the epoch). */
  readonly time: number;
  /** The container the item is about, as the engine learned it from container events (by ID). */
  readonly container?: ContainerContext;
  /** Per-item caches of computed values, filled on first use (null: computed, absent). */
  argvMemo?: string[];
  exeNameMemo?: string | null;
  arg0NameMemo?: string | null;
}

export interface ContainerContext {
  readonly id: string;
  readonly name?: string;
  readonly image?: string;
  readonly module?: string;
}

/** A field's value; an array (multi-valued field) matches when any element does. */
export type FieldValue = string | number | boolean | readonly string[] | undefined;
export type FieldAccessor = (view: EventView) => FieldValue;

/**
 * Top-level payload fields per event type (Microsoft's schemas and EdgeGuard's own). A rule naming a
 * field its events do not have is an error at load. `ExtraDetails.<Name>` is free-form and always allowed.
 */
export const EVENT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  ProcessCreate: ['Executable', 'ProcessId', 'ParentProcessId', 'UserId', 'UserName', 'CommandLine'],
  ProcessTerminate: ['Executable', 'ProcessId', 'ExitStatus'],
  ConnectionCreate: ['RemoteAddress', 'RemotePort', 'LocalAddress', 'LocalPort', 'Direction', 'Protocol', 'ProcessId', 'UserId', 'Executable', 'CommandLine'],
  ListeningPorts: ['RemoteAddress', 'RemotePort', 'LocalAddress', 'LocalPort', 'Protocol'],
  Login: ['ProcessId', 'UserId', 'UserName', 'Operation', 'Executable', 'RemoteAddress', 'RemotePort', 'LocalPort', 'Result'],
  LocalUsers: ['GroupIds', 'GroupNames', 'UserId', 'UserName'],
  FirewallConfiguration: ['Priority', 'Direction', 'ChainName', 'Application', 'Enabled', 'Action', 'SourceAddress', 'SourcePort', 'DestinationAddress', 'DestinationPort', 'Protocol'],
  OSBaseline: ['Description', 'CceId', 'Result', 'Error', 'Severity'],
  SystemInformation: ['OSName', 'OSVersion', 'OsArchitecture', 'HostName', 'BootTime', 'TotalPhysicalMemoryInKB', 'FreePhysicalMemoryInKB', 'TotalVirtualMemoryInKB', 'FreeVirtualMemoryInKB'],
  KernelModules: ['Name', 'Size', 'ReferenceCount', 'UsedBy', 'State', 'Taints', 'Permanent'],
  KernelModuleLoad: ['Name', 'Size', 'ReferenceCount', 'UsedBy', 'State', 'Taints', 'Permanent'],
  ContainerActivity: [
    'Action', 'ObjectType', 'EventTime', 'ContainerId', 'ContainerName', 'ModuleName', 'Image', 'ExitCode', 'Signal', 'OldName', 'ExecId', 'Command',
    'User', 'ExecPrivileged', 'HealthCheck', 'ImageId', 'ImageName', 'VolumeName', 'Destination', 'ReadWrite', 'Propagation', 'Driver',
  ],
  ContainerInventory: [
    'ContainerId', 'ContainerName', 'ModuleName', 'Image', 'ImageId', 'State', 'StartedAt', 'ExitCode', 'OOMKilled', 'RestartCount', 'Privileged', 'CapAdd',
    'CapDrop', 'NetworkMode', 'PidMode', 'IpcMode', 'UtsMode', 'UsernsMode', 'Mounts', 'Devices', 'PublishedPorts', 'PublishAllPorts', 'User', 'SecurityOpt',
    'ReadonlyRootfs', 'MemoryLimit', 'NanoCpus', 'CpuQuota', 'CpuShares', 'PidsLimit', 'Findings',
  ],
  DeploymentManifestAnalysis: ['RuleId', 'Severity', 'Title', 'Module', 'Path', 'Message', 'Remediation', 'Source'],
  MessageStatistics: ['MessagesSent', 'MessagesUnder4KB', 'TotalFailed'],
  ConfigurationError: ['ConfigurationName', 'ErrorType', 'UsedConfiguration', 'Message'],
};

function basename(value: FieldValue): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const cut = value.endsWith(' (deleted)') ? value.slice(0, -' (deleted)'.length) : value;
  const slash = cut.lastIndexOf('/');
  return slash >= 0 ? cut.slice(slash + 1) : cut;
}

function dirname(value: FieldValue): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const slash = value.lastIndexOf('/');
  return slash > 0 ? value.slice(0, slash) : slash === 0 ? '/' : undefined;
}

/** ContainerId of the item, or the one the process enrichment found in its cgroup. */
export function containerId(view: EventView): string | undefined {
  const id = view.item.ContainerId ?? view.item.ExtraDetails?.ContainerId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function extra(view: EventView, name: string): string | undefined {
  return view.item.ExtraDetails?.[name];
}

/** The first word of CommandLine without splitting the whole line. */
function firstWord(view: EventView): string | undefined {
  if (view.argvMemo) return view.argvMemo[0];
  const line = view.item.CommandLine;
  if (typeof line !== 'string') return undefined;
  if (line.startsWith(' ')) return argv(view)[0];
  const space = line.indexOf(' ');
  return space < 0 ? line : line.slice(0, space);
}

/** First argument after argv[0], split on spaces as Defender's CommandLine is joined. */
function argv(view: EventView): string[] {
  if (view.argvMemo) return view.argvMemo;
  const line = view.item.CommandLine;
  if (typeof line !== 'string') view.argvMemo = [];
  else {
    const parts = line.split(' ');
    view.argvMemo = line.includes('  ') || line.startsWith(' ') || line.endsWith(' ') ? parts.filter((s) => s !== '') : parts;
  }
  return view.argvMemo;
}

/**
 * The file a curl/wget command writes (-o FILE, --output FILE, -O FILE for wget, -O / --remote-name for
 * curl: the URL's last segment), made absolute with the process's Cwd. Lets the download-then-run
 * sequence match the file run afterwards.
 */
export function downloadTarget(view: EventView): string | undefined {
  const args = argv(view);
  const tool = basename(args[0]);
  if (tool !== 'curl' && tool !== 'wget') return undefined;
  let target: string | undefined;
  let url: string | undefined;
  let remoteName = false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '-o' || a === '--output' || (tool === 'wget' && a === '-O') || a === '--output-document') && i + 1 < args.length) target = args[++i];
    else if (a.startsWith('--output-document=') || a.startsWith('--output=')) target = a.slice(a.indexOf('=') + 1);
    else if (tool === 'curl' && (a === '-O' || a === '--remote-name')) remoteName = true;
    else if (/^[a-z]+:\/\//i.test(a)) url = a;
  }
  if (target === undefined && url !== undefined && (remoteName || tool === 'wget')) target = basename(url.replace(/[?#].*$/, ''));
  if (target === undefined || target === '' || target === '-') return undefined;
  if (target.startsWith('/')) return target;
  const cwd = extra(view, 'Cwd');
  return cwd === undefined ? undefined : `${cwd.replace(/\/$/, '')}/${target.replace(/^\.\//, '')}`;
}

const SCRIPT_RUNNERS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'busybox', 'python', 'python2', 'python3', 'perl', 'ruby', 'node', 'php']);

function runTarget(view: EventView): string | undefined {
  const exe = view.item.Executable;
  if (typeof exe !== 'string') return undefined;
  const a = argv(view);
  const name = basename(a[0]);
  const script = a[1];
  if (name === undefined || !SCRIPT_RUNNERS.has(name.replace(/[0-9.]+$/, '') || name) || script === undefined || script.startsWith('-')) return exe;
  if (script.startsWith('/')) return script;
  const cwd = extra(view, 'Cwd');
  return cwd === undefined ? script : `${cwd.replace(/\/$/, '')}/${script.replace(/^\.\//, '')}`;
}

/** Fields computed from the payload, available on every event type that has their inputs. */
export const DERIVED_FIELDS: Readonly<Record<string, { description: string; get: FieldAccessor }>> = {
  'event.name': { description: 'The event type (ProcessCreate, Login…)', get: (v) => v.event.Name },
  'event.category': { description: 'Periodic, Triggered or Aggregated', get: (v) => v.event.Category },
  ExecutableName: {
    description: 'Last path segment of Executable (without " (deleted)")',
    get: (v) => {
      if (v.exeNameMemo === undefined) v.exeNameMemo = basename(v.item.Executable as FieldValue) ?? null;
      return v.exeNameMemo ?? undefined;
    },
  },
  ExecutableDir: { description: 'Directory of Executable', get: (v) => dirname(v.item.Executable as FieldValue) },
  ExecutableDeleted: { description: 'The executable file was deleted after start ("true"/"false")', get: (v) => typeof v.item.Executable === 'string' ? String(v.item.Executable.endsWith(' (deleted)')) : undefined },
  Arg0: { description: 'First word of CommandLine', get: (v) => argv(v)[0] },
  Arg1: { description: 'Second word of CommandLine (the script an interpreter runs)', get: (v) => argv(v)[1] },
  Arg1Extension: {
    description: 'Extension of the second word of CommandLine (".sh", ".py"…), empty when it has none',
    get: (v) => {
      const name = basename(argv(v)[1]);
      if (name === undefined) return undefined;
      const dot = name.lastIndexOf('.');
      return dot > 0 ? name.slice(dot) : '';
    },
  },
  Arg0Name: { description: 'Last path segment of the first word of CommandLine (the name the program was called by: iptables even when it is xtables-nft-multi)', get: (v) => {
    if (v.arg0NameMemo === undefined) v.arg0NameMemo = basename(firstWord(v)) ?? null;
    return v.arg0NameMemo ?? undefined;
  } },
  Arg2: { description: 'Third word of CommandLine', get: (v) => argv(v)[2] },
  LastArg: { description: 'Last word of CommandLine when there are at least two', get: (v) => { const a = argv(v); return a.length > 1 ? a[a.length - 1] : undefined; } },
  Args: { description: 'Every word of CommandLine after the first (multi-valued)', get: (v) => argv(v).slice(1) },
  ArgCount: { description: 'Number of words of CommandLine after the first', get: (v) => Math.max(0, argv(v).length - 1) },
  RunTarget: { description: 'The file a process runs: the script an interpreter or shell is given (absolute, with Cwd), else Executable', get: runTarget },
  CommandName: { description: 'Last path segment of the first word of a container exec Command', get: (v) => (typeof v.item.Command === 'string' ? basename(v.item.Command.split(' ')[0]) : undefined) },
  Under4KBPercent: {
    description: 'MessageStatistics: share of the messages sent that were under 4 KB, in percent',
    get: (v) => {
      const sent = Number(v.item.MessagesSent);
      const small = Number(v.item.MessagesUnder4KB);
      return sent > 0 && Number.isFinite(small) ? Math.round((small * 100) / sent) : undefined;
    },
  },
  ParentName: { description: 'Last path segment of ExtraDetails.ParentExecutable', get: (v) => basename(extra(v, 'ParentExecutable')) },
  DownloadTarget: { description: 'File a curl/wget command line writes to, absolute (needs ExtraDetails.Cwd for a relative one)', get: downloadTarget },
  FindingIds: {
    description: 'Rule IDs of the deployment findings an event carries (ContainerActivity on create/start, ContainerInventory), multi-valued',
    get: (v) => (Array.isArray(v.item.Findings) ? (v.item.Findings as Array<{ RuleId?: unknown }>).map((f) => String(f.RuleId)) : undefined),
  },
  'container.id': { description: 'Full ID of the container the item is about (ContainerId, or ExtraDetails.ContainerId of a process)', get: (v) => v.container?.id ?? containerId(v) },
  'container.name': { description: 'Name of that container (from container events EdgeGuard saw)', get: (v) => (v.item.ContainerName as string | undefined) ?? v.container?.name },
  'container.image': { description: 'Image of that container', get: (v) => (typeof v.item.Image === 'string' ? v.item.Image : v.container?.image) },
  'container.module': { description: 'IoT Edge module name of that container', get: (v) => (v.item.ModuleName as string | undefined) ?? v.container?.module },
  ContainerRef: {
    description: 'The container: ContainerId or ExtraDetails.ContainerId (12 first hex digits)',
    get: (v) => {
      const id = (v.item.ContainerId as FieldValue) ?? extra(v, 'ContainerId');
      return typeof id === 'string' ? id.slice(0, 12) : undefined;
    },
  },
};

/** Accessor of a field name as written in a rule, or an error message when `events` lack it. */
export function resolveField(name: string, events: readonly string[]): FieldAccessor | string {
  const derived = DERIVED_FIELDS[name];
  if (derived) return derived.get;
  if (name.startsWith('ExtraDetails.')) {
    const key = name.slice('ExtraDetails.'.length);
    return (v) => v.item.ExtraDetails?.[key];
  }
  if (name.includes('.')) return `unknown field "${name}"`;
  const missing = events.filter((e) => !(EVENT_FIELDS[e] ?? []).includes(name));
  if (missing.length > 0) return `field "${name}" does not exist on ${missing.join(', ')}`;
  return (v) => {
    const value = v.item[name];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
  };
}
