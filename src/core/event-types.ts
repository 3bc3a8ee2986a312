import type { EventCategory, EventKind } from './event';

export type Priority = 'Off' | 'Low' | 'High';

export interface EventTypeInfo {
  readonly name: string;
  readonly kind: EventKind;
  /** Default of the `eventPriority<Name>` twin setting. */
  readonly defaultPriority: Priority;
  readonly categories: readonly EventCategory[];
  /** Defined by Microsoft's schemas (true) or by EdgeGuard's own under schemas/events (false). */
  readonly native: boolean;
  /** Has `aggregationEnabled<Name>` / `aggregationInterval<Name>` settings. */
  readonly aggregatable?: boolean;
}

/** Every event type EdgeGuard can send. Priority settings and schema validation derive from it. */
export const EVENT_TYPES: readonly EventTypeInfo[] = [
  { name: 'ConnectedHardware', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: true },
  { name: 'ListeningPorts', kind: 'Security', defaultPriority: 'High', categories: ['Periodic'], native: true },
  { name: 'ProcessCreate', kind: 'Security', defaultPriority: 'Low', categories: ['Triggered', 'Aggregated'], native: true, aggregatable: true },
  { name: 'ProcessTerminate', kind: 'Security', defaultPriority: 'Low', categories: ['Triggered', 'Aggregated'], native: true, aggregatable: true },
  { name: 'SystemInformation', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: true },
  { name: 'LocalUsers', kind: 'Security', defaultPriority: 'High', categories: ['Periodic'], native: true },
  { name: 'Login', kind: 'Security', defaultPriority: 'High', categories: ['Triggered'], native: true },
  { name: 'ConnectionCreate', kind: 'Security', defaultPriority: 'Low', categories: ['Triggered', 'Aggregated'], native: true, aggregatable: true },
  { name: 'FirewallConfiguration', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: true },
  { name: 'OSBaseline', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: true },
  { name: 'Diagnostic', kind: 'Diagnostic', defaultPriority: 'Low', categories: ['Triggered'], native: true },
  { name: 'ConfigurationError', kind: 'Operational', defaultPriority: 'Low', categories: ['Triggered'], native: true },
  { name: 'DroppedEventsStatistics', kind: 'Operational', defaultPriority: 'Low', categories: ['Periodic'], native: true },
  { name: 'MessageStatistics', kind: 'Operational', defaultPriority: 'Low', categories: ['Periodic'], native: true },
  // EdgeGuard's own event types; their schemas live in schemas/events/<Name>.json.
  { name: 'KernelModules', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: false },
  { name: 'KernelModuleLoad', kind: 'Security', defaultPriority: 'High', categories: ['Triggered'], native: false },
  { name: 'ContainerInventory', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: false },
  { name: 'ContainerActivity', kind: 'Security', defaultPriority: 'Low', categories: ['Triggered'], native: false },
  { name: 'DeploymentManifestAnalysis', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: false },
  { name: 'SecurityAlert', kind: 'Security', defaultPriority: 'High', categories: ['Triggered'], native: false },
  { name: 'SecurityRecommendation', kind: 'Security', defaultPriority: 'Low', categories: ['Periodic'], native: false },
];

const BY_NAME = new Map(EVENT_TYPES.map((t) => [t.name, t]));

export function eventTypeInfo(name: string): EventTypeInfo | undefined {
  return BY_NAME.get(name);
}
