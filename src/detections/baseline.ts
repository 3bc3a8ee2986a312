import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, lstatSync } from 'node:fs';
import path from 'node:path';

export const BASELINE_CATEGORIES = ['executables', 'listeningPorts', 'outboundDestinations', 'containerImages', 'loginUsers'] as const;
const MAX_ENTRIES_PER_CATEGORY = 20_000;
const MAX_FILE_BYTES = 8 * 1024 * 1024;

export type BaselineVerdict = 'learning' | 'known' | 'new';

interface BaselineFile {
  version: 1;
  learningStartedAt: number;
  learningMs: number;
  entries: Record<string, string[]>;
}

/**
 * What this device normally does, learned during a window (detectionLearningPeriod, default P1D) and
 * kept in <stateDir>/detections/baseline.json (mode 0600, written to a temporary file then renamed).
 * After the window, a value never seen is "new" once: it is added at once so it raises one alert.
 */
export class Baseline {
  private data: BaselineFile;
  private readonly sets = new Map<string, Set<string>>();
  private dirty = false;

  constructor(
    private readonly file: string | undefined,
    learningMs: number,
    now: number,
    private readonly onWarning: (message: string, details: Record<string, unknown>) => void = () => {},
  ) {
    this.data = { version: 1, learningStartedAt: now, learningMs, entries: {} };
    const loaded = file ? this.read(file) : undefined;
    if (loaded) this.data = { ...loaded, learningMs };
    else this.dirty = true;
    for (const [category, values] of Object.entries(this.data.entries)) this.sets.set(category, new Set(values));
  }

  private read(file: string): BaselineFile | undefined {
    try {
      const st = lstatSync(file);
      if (!st.isFile()) {
        this.onWarning('baseline file is not a regular file; learning starts again', { file });
        return undefined;
      }
      if (st.size > MAX_FILE_BYTES) {
        this.onWarning('baseline file too large; learning starts again', { file, bytes: st.size });
        return undefined;
      }
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<BaselineFile>;
      if (parsed.version !== 1 || typeof parsed.learningStartedAt !== 'number' || parsed.entries === null || typeof parsed.entries !== 'object') throw new Error('unexpected content');
      const entries: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(parsed.entries)) if (Array.isArray(v)) entries[k] = v.filter((x): x is string => typeof x === 'string').slice(0, MAX_ENTRIES_PER_CATEGORY);
      return { version: 1, learningStartedAt: parsed.learningStartedAt, learningMs: 0, entries };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onWarning('baseline file unreadable; learning starts again', { file, error: String(err) });
      return undefined;
    }
  }

  setLearningPeriod(ms: number): void {
    if (this.data.learningMs !== ms) {
      this.data.learningMs = ms;
      this.dirty = true;
    }
  }

  learning(now: number): boolean {
    return now < this.data.learningStartedAt + this.data.learningMs;
  }

  learningEndsAt(): number {
    return this.data.learningStartedAt + this.data.learningMs;
  }

  observe(category: string, value: string, now: number): BaselineVerdict {
    let set = this.sets.get(category);
    if (set?.has(value)) return 'known';
    if (!set) {
      set = new Set();
      this.sets.set(category, set);
    }
    const learning = this.learning(now);
    if (set.size < MAX_ENTRIES_PER_CATEGORY) {
      set.add(value);
      this.dirty = true;
    }
    return learning ? 'learning' : 'new';
  }

  /** The operator accepts a deviation: the value is normal from now on. */
  accept(category: string, value: string): void {
    let set = this.sets.get(category);
    if (!set) this.sets.set(category, (set = new Set()));
    set.add(value);
    this.dirty = true;
  }

  restart(now: number): void {
    this.sets.clear();
    this.data.learningStartedAt = now;
    this.dirty = true;
  }

  summary(now: number): { learning: boolean; learningEndsAt: string; entries: Record<string, number> } {
    const entries: Record<string, number> = {};
    for (const [k, v] of this.sets) entries[k] = v.size;
    return { learning: this.learning(now), learningEndsAt: new Date(this.learningEndsAt()).toISOString(), entries };
  }

  /** Writes the file when something changed: temporary file (0600), fsync, rename. */
  save(): void {
    if (!this.dirty || !this.file) return;
    const entries: Record<string, string[]> = {};
    for (const [k, v] of this.sets) entries[k] = [...v];
    const text = JSON.stringify({ ...this.data, entries });
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}
