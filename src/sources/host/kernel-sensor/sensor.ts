import { compareCodeUnits } from '../../../core/compare-text';
import { packagePath } from '../../../core/package-path';
import { existsSync } from 'node:fs';
import { decodeRecords, type SensorRecord } from './records';

/**
 * The kernel sensor shared by the sources that use it (ProcessEvents, Connections, FileOperations):
 * one BPF object loaded per process, whatever number of sources subscribe. It is (re)loaded with the
 * union of what the subscribers need and closed when the last one leaves. Loading is the native
 * addon's (native/kernel_sensor.c); this file only decides what to load and fans the records out.
 */

export interface SensitivePrefix {
  path: string;
  /** 1: write-like operations (open for write, unlink, rename, truncate); 2: open for read; 3: both. */
  watch: number;
}

/** A file name watched wherever it is (watch 1: writes, e.g. shell history) or the last component of a read-watched path (watch 2). */
export interface WatchedName {
  name: string;
  watch: number;
}

/** A watched file by inode (dev in the kernel's encoding): hard links and bind mounts of it match too. */
export interface WatchedInode {
  ino: number;
  dev: number;
  watch: number;
}

export interface SensorAddonOptions {
  objectPath: string;
  ringBufferBytes?: number;
  process?: boolean;
  network?: boolean;
  files?: boolean;
  excludePid?: number;
  prefixes?: SensitivePrefix[];
  names?: WatchedName[];
  inodes?: WatchedInode[];
  maxBatchBytes?: number;
  flushMs?: number;
  maxQueuedBatches?: number;
}

export interface SensorAddonStats {
  records: number;
  bytes: number;
  batches: number;
  /** Records lost because JavaScript did not keep up (batches over maxQueuedBatches). */
  droppedRecords: number;
  ringBufferBytes: number;
  threadCpuNs: number;
  /** Records the BPF programs could not put in the full ring buffer, by record type (index 1 = exec…). */
  kernelDrops: number[];
  attached: string[];
  /** Programs wanted but not loaded: their tracepoint does not exist on this kernel (e.g. init_module without modules). */
  skipped: string[];
}

export type SensorHandle = { readonly __kernelSensor: unique symbol };

export interface SensorAddon {
  sensorOpen(options: SensorAddonOptions, onBatch: (batch: Buffer) => void): SensorHandle;
  sensorStats(handle: SensorHandle): SensorAddonStats;
  sensorClose(handle: SensorHandle): void;
}

/** The BPF object built by `npm run build:native` (native/bpf/compile.sh). */
export function defaultObjectPath(): string {
  return packagePath('build/Release/edgeguard_sensor.bpf.o');
}

let cachedAddon: { addon: SensorAddon } | { reason: string } | undefined;

/** build/Release/edgeguard_sensor.node, or why it cannot be loaded (not built, libbpf missing). Never throws. */
export function loadSensorAddon(): { addon: SensorAddon } | { reason: string } {
  if (cachedAddon) return cachedAddon;
  const file = packagePath('build/Release/edgeguard_sensor.node');
  if (!existsSync(file)) {
    cachedAddon = { reason: `kernel sensor addon not built (${file} missing; needs clang and libbpf-dev at build time)` };
    return cachedAddon;
  }
  try {
    // require() of a .node file is untyped; the shape is declared by SensorAddon above.
    const addon = require(file) as SensorAddon;
    if (typeof addon.sensorOpen !== 'function') throw new Error('sensorOpen() missing');
    cachedAddon = { addon };
  } catch (err) {
    cachedAddon = { reason: `kernel sensor addon could not be loaded (libbpf1/libelf1 missing?): ${err instanceof Error ? err.message : String(err)}` };
  }
  return cachedAddon;
}

/** What one subscriber needs from the sensor. */
export interface SensorNeeds {
  process?: boolean;
  network?: boolean;
  files?: { prefixes: SensitivePrefix[]; names: WatchedName[]; inodes?: WatchedInode[] };
}

/** Settings of the sensor as a whole (docs: kernelSensor* settings). */
export interface SensorSettings {
  objectPath: string;
  ringBufferBytes: number;
  /** Leave EdgeGuard's own process tree out of file and network events. */
  excludeSelf: boolean;
}

export interface Subscription {
  /** Loss and health figures of the shared sensor. */
  stats(): SensorAddonStats | undefined;
  /** Why no sensor is loaded for this subscription any more (another source's reload failed), else undefined. */
  lost(): string | undefined;
  close(): void;
}

/** How often the subscribers' health checks run: one stats read of the shared sensor for all of them. */
export const HEALTH_CHECK_MS = 10_000;

/** What a subscriber's health check sees: the shared sensor's figures and, when it is gone, why. */
export interface SensorHealth {
  stats: SensorAddonStats | undefined;
  lost: string | undefined;
  /** The figures could not be read (never expected): the check logs it and keeps the status it had. */
  error?: unknown;
}

interface Subscriber {
  needs: SensorNeeds;
  onRecords: (records: SensorRecord[]) => void;
  onHealth?: (health: SensorHealth) => void;
}

class SensorHub {
  private handle: SensorHandle | undefined;
  private addon: SensorAddon | undefined;
  private loadedKey = '';
  private readonly subscribers = new Set<Subscriber>();
  /** Records the decoder could not frame (never expected: a layout mismatch between addon and JS). */
  malformed = 0;
  /** Why the sensor is not loaded although sources subscribed (a reload that failed). */
  private lostReason: string | undefined;
  /** The options of the last load that worked: what the other subscribers go back to when a newcomer's load fails. */
  private lastGood: SensorAddonOptions | undefined;

  /** One timer for the health checks of every subscriber (see checkHealth). */
  private healthTimer: NodeJS.Timeout | undefined;

  /**
   * Subscribes, (re)loading the sensor when the union of needs grew. Throws with the reason when it
   * cannot load. `onHealth` runs once now, then every HEALTH_CHECK_MS with the others' (one stats read).
   */
  subscribe(settings: SensorSettings, needs: SensorNeeds, onRecords: (records: SensorRecord[]) => void, onHealth?: (health: SensorHealth) => void): Subscription {
    const loaded = loadSensorAddon();
    if ('reason' in loaded) throw new Error(loaded.reason);
    this.addon = loaded.addon;
    const subscriber: Subscriber = { needs, onRecords, ...(onHealth ? { onHealth } : {}) };
    this.subscribers.add(subscriber);
    try {
      this.reload(settings);
    } catch (err) {
      this.subscribers.delete(subscriber);
      // The others keep what they had: load again without the newcomer's needs.
      if (this.subscribers.size > 0 && this.lastGood) {
        try {
          this.open(this.lastGood);
          this.lostReason = undefined;
        } catch (again) {
          this.lostReason = `kernel sensor could not be reloaded: ${again instanceof Error ? again.message : String(again)}`;
        }
      }
      throw err;
    }
    if (onHealth) {
      onHealth(this.health());
      this.healthTimer ??= setInterval(() => this.checkHealth(), HEALTH_CHECK_MS);
      this.healthTimer.unref();
    }
    let closed = false;
    return {
      stats: () => (this.handle && this.addon ? this.addon.sensorStats(this.handle) : undefined),
      lost: () => (this.handle ? undefined : (this.lostReason ?? 'kernel sensor not loaded')),
      close: () => {
        if (closed) return;
        closed = true;
        this.subscribers.delete(subscriber);
        if (![...this.subscribers].some((s) => s.onHealth)) {
          clearInterval(this.healthTimer);
          this.healthTimer = undefined;
        }
        if (this.subscribers.size === 0) {
          this.unload();
          this.lastGood = undefined;
          this.lostReason = undefined;
        }
      },
    };
  }

  private health(): SensorHealth {
    try {
      return this.handle && this.addon ? { stats: this.addon.sensorStats(this.handle), lost: undefined } : { stats: undefined, lost: this.lostReason ?? 'kernel sensor not loaded' };
    } catch (error) {
      return { stats: undefined, lost: undefined, error };
    }
  }

  /** The sources' loss and health checks, with one read of the sensor's figures for all of them. */
  private checkHealth(): void {
    const health = this.health();
    for (const s of this.subscribers) {
      try {
        s.onHealth?.(health);
      } catch {
        // A subscriber's check catches and logs its own failures; the others still run.
      }
    }
  }

  private wanted(settings: SensorSettings): SensorAddonOptions {
    const all = [...this.subscribers].map((s) => s.needs);
    const prefixes = new Map<string, number>();
    const names = new Map<string, number>();
    const inodes = new Map<string, WatchedInode>();
    for (const n of all) {
      for (const i of n.files?.inodes ?? []) {
        const key = `${i.dev}:${i.ino}`;
        inodes.set(key, { ...i, watch: (inodes.get(key)?.watch ?? 0) | i.watch });
      }
      for (const p of n.files?.prefixes ?? []) prefixes.set(p.path, (prefixes.get(p.path) ?? 0) | p.watch);
      for (const w of n.files?.names ?? []) names.set(w.name, (names.get(w.name) ?? 0) | w.watch);
    }
    return {
      objectPath: settings.objectPath,
      ringBufferBytes: settings.ringBufferBytes,
      process: all.some((n) => n.process),
      network: all.some((n) => n.network),
      files: all.some((n) => n.files !== undefined),
      excludePid: settings.excludeSelf ? process.pid : 0,
      prefixes: [...prefixes].map(([p, watch]) => ({ path: p, watch })).sort((a, b) => compareCodeUnits(a.path, b.path)),
      names: [...names].map(([name, watch]) => ({ name, watch })).sort((a, b) => compareCodeUnits(a.name, b.name)),
      inodes: [...inodes.values()].sort((a, b) => a.dev - b.dev || a.ino - b.ino),
    };
  }

  private reload(settings: SensorSettings): void {
    const options = this.wanted(settings);
    if (this.handle && JSON.stringify(options) === this.loadedKey) return;
    this.open(options);
  }

  private open(options: SensorAddonOptions): void {
    this.unload();
    this.handle = this.addon!.sensorOpen(options, (batch) => this.dispatch(batch));
    this.loadedKey = JSON.stringify(options);
    this.lastGood = options;
  }

  private dispatch(batch: Buffer): void {
    const { records, malformed } = decodeRecords(batch);
    this.malformed += malformed;
    for (const s of this.subscribers) {
      try {
        s.onRecords(records);
      } catch {
        // A subscriber's failure is its own (each catches and logs); the others still get the batch.
      }
    }
  }

  private unload(): void {
    if (this.handle && this.addon) this.addon.sensorClose(this.handle);
    this.handle = undefined;
    this.loadedKey = '';
  }
}

const hub = new SensorHub();

/** Subscribes to the shared kernel sensor; throws an Error whose message is the reason it cannot run here. */
export function subscribeKernelSensor(
  settings: SensorSettings,
  needs: SensorNeeds,
  onRecords: (records: SensorRecord[]) => void,
  onHealth?: (health: SensorHealth) => void,
): Subscription {
  return hub.subscribe(settings, needs, onRecords, onHealth);
}
