import { EVENT_TYPES, type Priority } from '../core/event-types';
import { DETECTION_SETTINGS } from '../detections/settings';

/** The twin's desired-property object that holds every setting, Defender's and EdgeGuard's. */
export const CONFIG_KEY = 'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration';

export type SettingType = 'duration' | 'integer' | 'boolean' | 'priority' | 'string' | 'stringList' | 'enum';
export type SettingValue = string | number | boolean | string[];

export interface SettingDefinition {
  readonly name: string;
  readonly type: SettingType;
  readonly default: SettingValue;
  /** Used instead of `default` when EdgeGuard runs standalone (no IoT Edge), so output comes within seconds. */
  readonly standaloneDefault?: SettingValue;
  readonly description: string;
  readonly minimum?: number;
  readonly maximum?: number;
  /** Allowed values of an `enum` setting. */
  readonly values?: readonly string[];
  /** Content check after the type check: why the value is not usable (never quoting it), or undefined. */
  readonly check?: (value: SettingValue) => string | undefined;
}

const PRIORITIES: readonly Priority[] = ['Off', 'Low', 'High'];

/** Defender for IoT's own settings, with the names, types and defaults of its twin schema. */
export const DEFENDER_SETTINGS: readonly SettingDefinition[] = [
  { name: 'highPriorityMessageFrequency', type: 'duration', default: 'PT7M', standaloneDefault: 'PT5S', description: 'Interval for sending high priority messages (ISO 8601 duration).' },
  { name: 'lowPriorityMessageFrequency', type: 'duration', default: 'PT5H', standaloneDefault: 'PT10S', description: 'Interval for sending low priority messages (ISO 8601 duration).' },
  { name: 'snapshotFrequency', type: 'duration', default: 'PT13H', standaloneDefault: 'PT1M', description: 'Interval between snapshots (system information, users, ports, inventory, baseline…).' },
  { name: 'maxLocalCacheSizeInBytes', type: 'integer', default: 2_560_000, minimum: 8192, description: 'Bytes of events kept on the device before they are sent, shared by the three queues.' },
  { name: 'maxMessageSizeInBytes', type: 'integer', default: 204_800, minimum: 8192, maximum: 262_144, description: 'Largest message sent upstream, measured on its UTF-8 JSON.' },
  ...EVENT_TYPES.map((t): SettingDefinition => ({
    name: `eventPriority${t.name}`,
    type: 'priority',
    default: t.defaultPriority,
    description: `Queue for ${t.name} events: Off, Low or High.`,
  })),
  ...EVENT_TYPES.filter((t) => t.aggregatable).flatMap((t): SettingDefinition[] => [
    { name: `aggregationEnabled${t.name}`, type: 'boolean', default: true, description: `Collapse identical ${t.name} events into one Aggregated event.` },
    { name: `aggregationInterval${t.name}`, type: 'duration', default: 'PT1H', standaloneDefault: 'PT10S', description: `Aggregation window for ${t.name} events.` },
  ]),
];

/** EdgeGuard's settings that belong to no single source. */
export const AGENT_SETTINGS: readonly SettingDefinition[] = [
  { name: 'logLevel', type: 'enum', default: 'info', values: ['error', 'warn', 'info', 'debug'], description: 'Log level; the IoT Edge RuntimeLogLevel variable sets it until the twin does.' },
  {
    name: 'redactCommandLineSecrets',
    type: 'boolean',
    default: true,
    description:
      'Replace secrets on command lines (--password x, TOKEN=x, mysql -px, URL credentials, connection-string keys, Authorization headers) with *** before events are queued; the item gets ExtraDetails CommandLineRedacted.',
  },
];

/** The full catalogue: Defender's settings, the agent's, then each source's own. */
export function buildCatalogue(sourceSettings: readonly SettingDefinition[]): SettingDefinition[] {
  const all = [...DEFENDER_SETTINGS, ...AGENT_SETTINGS, ...DETECTION_SETTINGS, ...sourceSettings];
  const seen = new Set<string>();
  for (const s of all) {
    if (seen.has(s.name)) throw new Error(`setting ${s.name} is declared twice`);
    seen.add(s.name);
  }
  return all;
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}
