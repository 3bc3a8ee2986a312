import type { EventCategory, EventKind, PayloadItem } from './event';
import type { Priority } from './priority';

export type { Priority } from './priority';

/**
 * What makes two raw events "identical" for aggregation, as Defender's agents define it. `normalize`
 * returns the payload item the Aggregated event carries: the fields that vary between hits (process
 * ids, the ephemeral port) are zeroed or left out, so every hit of a key has the same item.
 * `keyDetails` names the ExtraDetails that are part of the key (sorted); the other ExtraDetails are
 * per-execution context: the aggregate carries those only where every hit had the same value.
 */
export interface AggregationKey {
  key(item: PayloadItem): string;
  normalize(item: PayloadItem): PayloadItem;
  readonly keyDetails: readonly string[];
}

/**
 * Everything EdgeGuard knows of one event type. Exported by the source that emits it (or, for the
 * ConfigurationError and statistics events, by the agent) and collected in the registry
 * (src/agent/event-registry.ts), from which the settings, schema validation, aggregation and docs derive.
 */
export interface EventDescriptor {
  /** The event's `Name`. */
  readonly name: string;
  /** The event's `EventType`. */
  readonly kind: EventKind;
  /** The category its events are created with; an aggregatable Triggered type also sends `Aggregated`. */
  readonly category: 'Periodic' | 'Triggered';
  /** Default of the `eventPriority<Name>` setting. */
  readonly defaultPriority: Priority;
  /** Its payload schema: Microsoft's official one, or EdgeGuard's own in schemas/events/<Name>.json. */
  readonly schema: 'official' | 'own';
  /** `PayloadSchemaVersion` of its events. */
  readonly payloadVersion: string;
  /** Present when its events may be aggregated: adds `aggregationEnabled<Name>` / `aggregationInterval<Name>`. */
  readonly aggregation?: AggregationKey;
}

export type EventDescriptorInput = Pick<EventDescriptor, 'name' | 'category' | 'defaultPriority'> & Partial<EventDescriptor>;

/** A descriptor with the common defaults: a Security event, own schema, payload version 1.0. */
export function defineEventType(input: EventDescriptorInput): EventDescriptor {
  return { kind: 'Security', schema: 'own', payloadVersion: '1.0', ...input };
}

/** The categories events of this type may carry. */
export function categoriesOf(type: EventDescriptor): EventCategory[] {
  return type.aggregation ? [type.category, 'Aggregated'] : [type.category];
}
