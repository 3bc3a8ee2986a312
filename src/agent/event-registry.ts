import type { EventDescriptor } from '../core/event-types';
import { ALL_SOURCES } from '../sources/index';
import type { SourceDefinition } from '../sources/source';
import { AGENT_EVENT_TYPES } from './event-types';
import { DETECTION_EVENT_TYPES } from '../detections/event-types';

/** Every event type of the given sources plus the agent's own; a name declared twice is a programming error. */
export function eventTypesOf(sources: readonly SourceDefinition[], extra: readonly EventDescriptor[] = AGENT_EVENT_TYPES): EventDescriptor[] {
  const all = [...sources.flatMap((s) => s.events), ...extra];
  const seen = new Set<string>();
  for (const t of all) {
    if (seen.has(t.name)) throw new Error(`event type ${t.name} is declared twice`);
    seen.add(t.name);
  }
  return all;
}

/**
 * Event types raised by a pipeline stage rather than a source: the detections engine (src/detections)
 * lists its descriptors here, one line.
 */
export const STAGE_EVENT_TYPES: readonly EventDescriptor[] = [...DETECTION_EVENT_TYPES];

/**
 * The registry: every event type EdgeGuard can send, each described once by the source that emits it
 * (or the agent). Settings (eventPriority<Name>, aggregation), schema checks, aggregation keys and the
 * docs derive from it.
 */
export const EVENT_TYPES: readonly EventDescriptor[] = eventTypesOf(ALL_SOURCES, [...AGENT_EVENT_TYPES, ...STAGE_EVENT_TYPES]);

const BY_NAME = new Map(EVENT_TYPES.map((t) => [t.name, t]));

export function eventType(name: string): EventDescriptor | undefined {
  return BY_NAME.get(name);
}
