import { buildCatalogue, DEFENDER_SETTINGS, eventTypeSettings, type SettingDefinition } from '../config/settings';
import type { EventDescriptor } from '../core/event-types';
import { ALL_SOURCES, sourceSettings } from '../sources/index';
import type { SourceDefinition } from '../sources/source';
import { EVENT_TYPES } from './event-registry';
import { AGENT_SETTINGS } from './settings';
import { DETECTION_SETTINGS } from '../detections/settings';

/** Settings of the pipeline stages plugged in by the agent (the detections engine adds its group here). */
export const STAGE_SETTINGS: readonly SettingDefinition[] = [...DETECTION_SETTINGS];

/**
 * The settings catalogue: Defender's settings, one priority (and aggregation pair) per event type of
 * the registry, the agent's settings, then each source's own with its on/off switch.
 */
export function settingsCatalogue(sources: readonly SourceDefinition[] = ALL_SOURCES, eventTypes: readonly EventDescriptor[] = EVENT_TYPES): SettingDefinition[] {
  return buildCatalogue(DEFENDER_SETTINGS, eventTypeSettings(eventTypes), AGENT_SETTINGS, STAGE_SETTINGS, sourceSettings(sources));
}
