import { parseDuration } from '../core/duration';
import type { Priority } from '../core/priority';
import type { SettingValue } from './settings';

/** Read-only, typed access to the effective configuration (every setting has a value). */
export class ConfigView {
  constructor(protected readonly values: ReadonlyMap<string, SettingValue>) {}

  /**
   * The same configuration, calling `onRead(name, value)` at every read of a setting: how the agent
   * learns which settings a component reads, to reapply them when they change.
   */
  recording(onRead: (name: string, value: SettingValue) => void): ConfigView {
    return new RecordingConfigView(this.values, onRead);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  raw(name: string): SettingValue {
    const value = this.values.get(name);
    if (value === undefined) throw new Error(`unknown setting ${name}`);
    return value;
  }

  /** A duration setting in milliseconds. */
  durationMs(name: string): number {
    const ms = parseDuration(String(this.raw(name)));
    if (ms === undefined) throw new Error(`setting ${name} is not a duration`);
    return ms;
  }

  integer(name: string): number {
    return Number(this.raw(name));
  }

  boolean(name: string): boolean {
    return this.raw(name) === true;
  }

  string(name: string): string {
    return String(this.raw(name));
  }

  stringList(name: string): string[] {
    const value = this.raw(name);
    return Array.isArray(value) ? [...value] : [];
  }

  priority(eventName: string): Priority {
    const name = `eventPriority${eventName}`;
    return this.has(name) ? (this.string(name) as Priority) : 'Low';
  }

  entries(): IterableIterator<[string, SettingValue]> {
    return this.values.entries();
  }

  /** Stable text of a subset of settings; a source restarts when the signature of the settings it reads changes. */
  signature(names: readonly string[]): string {
    return JSON.stringify(names.map((n) => [n, this.values.get(n)]));
  }
}

class RecordingConfigView extends ConfigView {
  constructor(
    values: ReadonlyMap<string, SettingValue>,
    private readonly onRead: (name: string, value: SettingValue) => void,
  ) {
    super(values);
  }

  override raw(name: string): SettingValue {
    const value = super.raw(name);
    this.onRead(name, value);
    return value;
  }

  override recording(onRead: (name: string, value: SettingValue) => void): ConfigView {
    return super.recording((name, value) => {
      this.onRead(name, value);
      onRead(name, value);
    });
  }
}
