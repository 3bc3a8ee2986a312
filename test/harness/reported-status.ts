import { readFileSync } from 'node:fs';
import path from 'node:path';
import { STATUS_KEY } from '../../src/agent/property-reporter';

/** A source's status as a standalone agent last reported it (<stateDir>/reported.json); undefined while absent or half-written. */
export function reportedSourceStatus(stateDir: string, source: string): { state?: string; reason?: string; method?: string } | undefined {
  try {
    const doc = JSON.parse(readFileSync(path.join(stateDir, 'reported.json'), 'utf8'));
    return doc[STATUS_KEY]?.sources?.[source];
  } catch {
    return undefined;
  }
}
