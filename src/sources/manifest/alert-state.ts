import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../core/atomic-write';

/** Stable identity of a finding across runs and restarts. */
export function findingFingerprint(ruleId: string, module: string, jsonPath: string, source: string): string {
  return createHash('sha256').update([ruleId, module, jsonPath, source].join('\u0000')).digest('hex').slice(0, 32);
}

/**
 * Critical/High findings already sent at High priority, kept in the state directory so a restart
 * does not re-alert everything. Holds hashes only.
 */
export class AlertState {
  private alerted = new Set<string>();
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'manifest-alerts.json');
  }

  load(): void {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { version?: number; fingerprints?: unknown };
      if (parsed.version === 1 && Array.isArray(parsed.fingerprints)) this.alerted = new Set(parsed.fingerprints.filter((f): f is string => typeof f === 'string'));
    } catch {
      this.alerted = new Set();
    }
  }

  /** Which of `current` (Critical/High fingerprints) are new; the state becomes `current`. */
  update(current: ReadonlySet<string>): string[] {
    const fresh = [...current].filter((f) => !this.alerted.has(f));
    const changed = fresh.length > 0 || [...this.alerted].some((f) => !current.has(f));
    this.alerted = new Set(current);
    if (changed || this.unsaved) this.save();
    return fresh;
  }

  /** Whether the last save failed (state directory full or read-only): kept in memory, saved again at the next update. */
  unsaved = false;

  private save(): void {
    try {
      writeFileAtomic(this.file, JSON.stringify({ version: 1, fingerprints: [...this.alerted].sort() }));
      this.unsaved = false;
    } catch {
      // A restart would alert these findings again: better than losing the analysis now.
      this.unsaved = true;
    }
  }
}
