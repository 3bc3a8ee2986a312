import { EVENT_TYPES } from '../agent/event-registry';
import { categoriesOf } from '../core/event-types';
import { ALL_SOURCES } from '../sources/index';
import { replaceBetween } from './markers';

export const EVENTS_BEGIN = '<!-- event-types:begin (generated from the event-type registry: npm run docs) -->';
export const EVENTS_END = '<!-- event-types:end -->';

/** Every event type EdgeGuard sends, from the registry: who sends it, its categories, priority and schema. */
export function renderEventTable(): string {
  const emitter = new Map(ALL_SOURCES.flatMap((s) => s.events.map((e) => [e.name, `${s.name} source`] as const)));
  const rows = EVENT_TYPES.map((t) => {
    const schema = t.schema === 'official' ? "Microsoft's" : `[own](schemas/events/${t.name}.json)`;
    return `| ${t.name} | ${t.kind} | ${categoriesOf(t).join(', ')} | ${t.defaultPriority} | ${schema} | ${emitter.get(t.name) ?? 'agent'} |`;
  });
  return ['| Event type | EventType | Category | Default priority | Schema | Sent by |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

export function updateEventTable(doc: string): string {
  return replaceBetween(doc, EVENTS_BEGIN, EVENTS_END, renderEventTable(), 'README.md');
}
