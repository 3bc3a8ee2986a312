import type { EventDescriptor } from '../core/event-types';
import { isPriority } from '../core/priority';

export { isPriority };

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
  /** Bounds of an `integer` setting; every integer setting declares both. */
  readonly minimum?: number;
  readonly maximum?: number;
  /** Bounds of a `duration` setting (ISO 8601); default PT0.05S and P24D (timers cannot wait longer). */
  readonly minimumDuration?: string;
  readonly maximumDuration?: string;
  /** Allowed values of an `enum` setting. */
  readonly values?: readonly string[];
  /** Accepted and reported for compatibility with the Defender for IoT twin; nothing in EdgeGuard reads it. */
  readonly compatOnly?: true;
  /** Content check after the type check: why the value is not usable (never quoting it), or undefined. */
  readonly check?: (value: SettingValue) => string | undefined;
  /** A valid non-default value (settings with a content check), for the docs and the live-settings test. */
  readonly example?: SettingValue;
}

/** Defender for IoT's own settings, with the names, types and defaults of its twin schema. */
export const DEFENDER_SETTINGS: readonly SettingDefinition[] = [
  { name: 'highPriorityMessageFrequency', type: 'duration', default: 'PT7M', standaloneDefault: 'PT5S', minimumDuration: 'PT1S', maximumDuration: 'P1D', description: 'Interval for sending high priority messages (ISO 8601 duration).' },
  { name: 'lowPriorityMessageFrequency', type: 'duration', default: 'PT5H', standaloneDefault: 'PT10S', minimumDuration: 'PT1S', maximumDuration: 'P7D', description: 'Interval for sending low priority messages (ISO 8601 duration).' },
  { name: 'snapshotFrequency', type: 'duration', default: 'PT13H', standaloneDefault: 'PT1M', minimumDuration: 'PT1S', maximumDuration: 'P7D', description: 'Interval between snapshots (system information, users, ports, inventory, baseline…).' },
  { name: 'maxLocalCacheSizeInBytes', type: 'integer', default: 2_560_000, minimum: 8192, maximum: 67_108_864, description: 'Bytes of events kept on the device before they are sent, shared by the three queues.' },
  { name: 'maxMessageSizeInBytes', type: 'integer', default: 204_800, minimum: 8192, maximum: 262_144, description: 'Largest message sent upstream, measured on its UTF-8 JSON.' },
  // Part of Defender's twin schema, so accepted and reported; no EdgeGuard source emits these event types.
  ...['ConnectedHardware', 'Diagnostic'].map(
    (name): SettingDefinition => ({
      name: `eventPriority${name}`,
      type: 'priority',
      default: 'Low',
      compatOnly: true,
      description: `Accepted for compatibility with the Defender for IoT twin; EdgeGuard emits no ${name} events.`,
    }),
  ),
];

/** Per event type: `eventPriority<Name>`, and for aggregatable types `aggregationEnabled<Name>` / `aggregationInterval<Name>`. */
export function eventTypeSettings(types: readonly EventDescriptor[]): SettingDefinition[] {
  return [
    ...types.map((t): SettingDefinition => ({
      name: `eventPriority${t.name}`,
      type: 'priority',
      default: t.defaultPriority,
      description: `Queue for ${t.name} events: Off, Low or High.`,
    })),
    ...types.filter((t) => t.aggregation !== undefined).flatMap((t): SettingDefinition[] => [
      { name: `aggregationEnabled${t.name}`, type: 'boolean', default: true, description: `Collapse identical ${t.name} events into one Aggregated event.` },
      { name: `aggregationInterval${t.name}`, type: 'duration', default: 'PT1H', standaloneDefault: 'PT10S', minimumDuration: 'PT1S', maximumDuration: 'P1D', description: `Aggregation window for ${t.name} events.` },
    ]),
  ];
}

/** The full catalogue from its groups, in order (Defender's, the event types', the agent's, each source's); names are unique. */
export function buildCatalogue(...groups: ReadonlyArray<readonly SettingDefinition[]>): SettingDefinition[] {
  const all = groups.flat();
  const seen = new Set<string>();
  for (const s of all) {
    if (seen.has(s.name)) throw new Error(`setting ${s.name} is declared twice`);
    seen.add(s.name);
  }
  return all;
}
