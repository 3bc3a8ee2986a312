import type { PayloadItem } from '../core/event';
import type { EvidenceEntry } from './evidence';
import { containerId, type EventView } from './fields';
import type { AlertSeverity, CompiledRule } from './model';

/** The Entity of SecurityAlert / SecurityRecommendation (schemas/events/SecurityAlert.json#/definitions/entity). */
export type Entity = Partial<Record<
  'Executable' | 'CommandLine' | 'ParentExecutable' | 'ContainerId' | 'ContainerName' | 'ModuleName' | 'Image' | 'UserName' | 'UserId' |
  'RemoteAddress' | 'RemotePort' | 'LocalAddress' | 'LocalPort' | 'KernelModule' | 'Path',
  string
>> & { ProcessId?: number };

const LIMITS: Record<string, number> = { Executable: 1024, CommandLine: 1024, ParentExecutable: 1024, ContainerName: 256, ModuleName: 256, Image: 512, UserName: 256, UserId: 32, RemoteAddress: 64, RemotePort: 8, LocalAddress: 64, LocalPort: 8, KernelModule: 64, Path: 1024 };

function text(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** What an alert is about, from the first triggering item. */
export function entityOf(view: EventView): Entity {
  const item = view.item;
  const x = item.ExtraDetails ?? {};
  const e: Entity = {};
  const set = (key: keyof typeof LIMITS, value: string | undefined): void => {
    if (value !== undefined) (e as Record<string, string>)[key] = value.slice(0, LIMITS[key]);
  };
  const isModule = view.event.Name === 'KernelModuleLoad' || view.event.Name === 'KernelModules';
  if (!isModule) set('Executable', text(item.Executable));
  set('CommandLine', text(item.CommandLine) ?? text(item.Command));
  if (typeof item.ProcessId === 'number' && item.ProcessId >= 0) e.ProcessId = item.ProcessId;
  set('ParentExecutable', x.ParentExecutable);
  const cid = containerId(view);
  if (cid !== undefined && /^[0-9a-f]{12,64}$/.test(cid)) e.ContainerId = cid;
  set('ContainerName', text(item.ContainerName) ?? view.container?.name);
  set('ModuleName', text(item.ModuleName) ?? view.container?.module);
  set('Image', text(item.Image) ?? text(item.ImageName) ?? view.container?.image);
  set('UserName', text(item.UserName) ?? text(item.User));
  set('UserId', text(item.UserId));
  set('RemoteAddress', text(item.RemoteAddress) ?? text(item.DestinationAddress));
  set('RemotePort', text(item.RemotePort));
  set('LocalAddress', text(item.LocalAddress));
  set('LocalPort', text(item.LocalPort));
  if (isModule) set('KernelModule', text(item.Name));
  set('Path', text(item.Path) ?? text(item.ChainName) ?? text(item.CceId));
  return e;
}

export interface AlertItem extends PayloadItem {
  AlertId: string;
  Status: 'New' | 'Update';
  RuleId: string;
  RuleName: string;
  RuleKind: string;
  Severity: AlertSeverity;
  Tactic: string;
  Technique: string;
  Description: string;
  Remediation: string;
  Tags: string[];
  DetectionKey: string;
  Entity: Entity;
  Evidence: EvidenceEntry[];
  FirstSeen: string;
  LastSeen: string;
  Count: number;
  Suppressed?: number;
}

export function detectionKeyText(values: readonly unknown[]): string {
  const joined = values.map((v) => (v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v))).join('|');
  return joined.length > 256 ? joined.slice(0, 256) : joined;
}

export interface AlertState {
  alertId: string;
  rule: CompiledRule;
  severity: AlertSeverity;
  key: string;
  entity: Entity;
  evidence: EvidenceEntry[];
  firstSeen: number;
  lastSeen: number;
  count: number;
  /** Count already sent (New sends 1, an Update sends the total). */
  sentCount: number;
  windowEnd: number;
}

export function alertItem(state: AlertState, status: 'New' | 'Update', suppressed: number): AlertItem {
  const r = state.rule;
  const item: AlertItem = {
    AlertId: state.alertId,
    Status: status,
    RuleId: r.id,
    RuleName: r.name,
    RuleKind: r.kind,
    Severity: state.severity,
    Tactic: r.tactic,
    Technique: r.technique,
    Description: r.description,
    Remediation: r.remediation,
    Tags: r.tags.slice(0, 16),
    DetectionKey: state.key,
    Entity: state.entity,
    Evidence: state.evidence,
    FirstSeen: new Date(state.firstSeen).toISOString(),
    LastSeen: new Date(state.lastSeen).toISOString(),
    Count: state.count,
  };
  if (suppressed > 0) item.Suppressed = suppressed;
  return item;
}
