import { defineEventType } from '../core/event-types';

/** The event types no source emits: the agent's configuration errors and the pipeline's statistics. */
export const CONFIGURATION_ERROR = defineEventType({ name: 'ConfigurationError', kind: 'Operational', category: 'Triggered', defaultPriority: 'Low', schema: 'official' });
export const DROPPED_EVENTS_STATISTICS = defineEventType({ name: 'DroppedEventsStatistics', kind: 'Operational', category: 'Periodic', defaultPriority: 'Low', schema: 'official' });
export const MESSAGE_STATISTICS = defineEventType({ name: 'MessageStatistics', kind: 'Operational', category: 'Periodic', defaultPriority: 'Low', schema: 'official' });

export const AGENT_EVENT_TYPES = [CONFIGURATION_ERROR, DROPPED_EVENTS_STATISTICS, MESSAGE_STATISTICS] as const;
