import { STAGE_SETTINGS } from '../agent/catalogue';
import { ALL_SOURCES, sourceSettings } from '../sources/index';
import type { SourceDefinition } from '../sources/source';
import { AGENT_SETTINGS } from '../agent/settings';
import { EVENT_TYPES } from '../agent/event-registry';
import { DEFENDER_SETTINGS, eventTypeSettings, type SettingDefinition, type SettingValue } from '../config/settings';
import { existsSync } from 'node:fs';
import { packagePath } from '../core/package-path';
import { durationBounds } from '../config/setting-schema';

/** Markers around the generated part of docs/configuration.md. */
export const BEGIN_MARKER = '<!-- settings:begin (generated from the catalogue: npm run docs) -->';
export const END_MARKER = '<!-- settings:end -->';

function typeText(def: SettingDefinition): string {
  switch (def.type) {
    case 'integer': {
      const range = [def.minimum !== undefined ? `≥ ${def.minimum}` : '', def.maximum !== undefined ? `≤ ${def.maximum}` : ''].filter(Boolean).join(', ');
      return range ? `integer (${range})` : 'integer';
    }
    case 'duration': {
      const { min, max } = durationBounds(def);
      return `ISO 8601 duration (${min} … ${max})`;
    }
    case 'priority':
      return 'Off \\| Low \\| High';
    case 'enum':
      return (def.values ?? []).join(' \\| ');
    case 'stringList':
      return 'list of strings';
    default:
      return def.type;
  }
}

function valueText(value: SettingValue | undefined): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.length === 0 ? '`[]`' : value.map((v) => `\`${v}\``).join(', ');
  if (value === '') return '`""`';
  return `\`${String(value)}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(settings: readonly SettingDefinition[]): string {
  const rows = settings.map(
    (d) => `| \`${d.name}\` | ${typeText(d)} | ${valueText(d.default)} | ${d.standaloneDefault !== undefined ? valueText(d.standaloneDefault) : 'same'} | ${cell(d.description)} |`,
  );
  return ['| Setting | Type | Default | Standalone default | Description |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The generated settings reference: Defender's settings, the agent's, then each source's. */
export function renderSettingsReference(sources: readonly SourceDefinition[] = ALL_SOURCES): string {
  const parts = [
    '### Defender for IoT settings',
    '',
    "Same names, types and defaults as the Defender for IoT security module twin; `eventPriority<Name>` also exists for EdgeGuard's own event types.",
    '',
    table([...DEFENDER_SETTINGS, ...eventTypeSettings(EVENT_TYPES)]),
    '',
    '### Agent settings',
    '',
    table(AGENT_SETTINGS),
    '',
    '### Detection settings',
    '',
    'The on-device detections engine ([docs/detections.md](docs/detections.md)); all applied live.',
    '',
    table(STAGE_SETTINGS),
  ];
  for (const source of sources) {
    parts.push('', `### ${source.name} source`, '', source.description, '', table(sourceSettings([source])));
  }
  return parts.join('\n');
}

/** `doc` with its generated block replaced by the current reference. */
export function updateSettingsDoc(doc: string, reference = renderSettingsReference()): string {
  const begin = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (begin < 0 || end < begin) throw new Error('settings markers not found');
  return `${doc.slice(0, begin + BEGIN_MARKER.length)}\n${reference}\n${doc.slice(end)}`;
}

/** Files that carry the generated settings reference between the markers. */
export const SETTINGS_DOCS = ['docs/configuration.md', 'README.md'] as const;

/** A generated doc's path, from src/config or dist/src/config. */
export function settingsDocPath(relative: string = SETTINGS_DOCS[0]): string {
  const file = packagePath(relative);
  if (!existsSync(file)) throw new Error(`${relative} not found`);
  return file;
}
