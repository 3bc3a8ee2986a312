import type { ConfigView } from '../../../config/config-view';
import type { SettingDefinition } from '../../../config/settings';
import { statSync } from 'node:fs';
import { hostPath } from '../../../core/host-root';
import { defaultObjectPath, type SensitivePrefix, type SensorSettings, type WatchedInode, type WatchedName } from './sensor';

/** The kernel sensor's own settings (declared once, by the FileOperations source; read by every user of the sensor). */
export const KERNEL_SENSOR_SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'kernelSensorRingBufferBytes',
    type: 'integer',
    default: 1_048_576,
    minimum: 65_536,
    maximum: 67_108_864,
    description:
      'Size of the eBPF kernel sensor ring buffer (rounded down to a power of two; charged to the module\'s memory cgroup). Records that do not fit during a burst are counted and reported, never silently lost.',
  },
  {
    name: 'kernelSensorExcludeSelf',
    type: 'boolean',
    default: true,
    description: "Leave EdgeGuard's own process tree out of the kernel sensor's file and network events (filtered in the kernel).",
  },
  {
    name: 'kernelSensorObjectPath',
    type: 'string',
    default: '',
    description: 'BPF object the kernel sensor loads; empty for the one built with EdgeGuard (build/Release/edgeguard_sensor.bpf.o).',
  },
];

export function sensorSettings(config: ConfigView): SensorSettings {
  const objectPath = config.has('kernelSensorObjectPath') ? config.string('kernelSensorObjectPath') : '';
  return {
    objectPath: objectPath || defaultObjectPath(),
    ringBufferBytes: config.has('kernelSensorRingBufferBytes') ? config.integer('kernelSensorRingBufferBytes') : 1_048_576,
    excludeSelf: config.has('kernelSensorExcludeSelf') ? config.boolean('kernelSensorExcludeSelf') : true,
  };
}

/** Paths watched for write-like operations by default (issue 13's list). A trailing "/" means "anything under". */
export const DEFAULT_WRITE_WATCH = [
  '/etc/passwd',
  '/etc/shadow',
  '/etc/group',
  '/etc/gshadow',
  '/etc/sudoers',
  '/etc/ssh/',
  '/etc/ld.so.preload',
  '/etc/cron',
  '/bin/',
  '/sbin/',
  '/usr/bin/',
  '/usr/sbin/',
  '/usr/local/bin/',
  '/usr/local/sbin/',
  '/var/log/',
  '/root/.ssh/',
];
export const DEFAULT_READ_WATCH = ['/etc/shadow', '/etc/gshadow'];

/** File names watched for writes wherever they are: shell histories in every home directory. */
export const DEFAULT_WATCH_NAMES = ['.bash_history', '.ash_history', '.zsh_history', '.sh_history', '.history', '.python_history', '.mysql_history', '.psql_history'];

const PREFIX_MAX = 128;
const NAME_MAX = 30;

function checkName(name: string, what: string): void {
  if (name === '' || name.includes('/')) throw new Error(`${what} "${name.slice(0, 40)}" must be a file name`);
  if (Buffer.byteLength(name) > NAME_MAX) throw new Error(`${what} "${name.slice(0, 40)}" is longer than ${NAME_MAX} bytes`);
}

/**
 * Turns the path lists into the kernel filter: LPM-trie prefixes, plus file names (watched names,
 * and the last components of the read-watched paths: the kernel's cheap first test for a read
 * open). Throws on a path the kernel filter cannot hold (relative, too long, a read-watched path
 * ending in "/").
 */
export function kernelFilter(
  writeWatch: readonly string[],
  readWatch: readonly string[],
  watchNames: readonly string[] = [],
): { prefixes: SensitivePrefix[]; names: WatchedName[] } {
  const prefixes = new Map<string, number>();
  const names = new Map<string, number>();
  const check = (p: string): void => {
    if (!p.startsWith('/')) throw new Error(`watched path "${p.slice(0, 40)}" is not absolute`);
    if (Buffer.byteLength(p) > PREFIX_MAX) throw new Error(`watched path "${p.slice(0, 40)}…" is longer than ${PREFIX_MAX} bytes`);
  };
  for (const p of writeWatch) {
    check(p);
    prefixes.set(p, (prefixes.get(p) ?? 0) | 1);
  }
  for (const p of readWatch) {
    check(p);
    const name = p.slice(p.lastIndexOf('/') + 1);
    checkName(name, 'read-watched file name');
    names.set(name, (names.get(name) ?? 0) | 2);
    prefixes.set(p, (prefixes.get(p) ?? 0) | 2);
  }
  for (const name of watchNames) {
    checkName(name, 'watched file name');
    names.set(name, (names.get(name) ?? 0) | 1);
  }
  return {
    prefixes: [...prefixes].map(([path, watch]) => ({ path, watch })),
    names: [...names].map(([name, watch]) => ({ name, watch })),
  };
}

/** A stat(2) st_dev (glibc's encoding) as the kernel numbers devices internally (MAJOR << 20 | MINOR). */
export function kernelDev(stDev: number): number {
  const major = Math.floor(stDev / 256) & 0xfff;
  const minor = (stDev & 0xff) | (Math.floor(stDev / 4096) & 0xfff00);
  return ((major << 20) | minor) >>> 0;
}

/**
 * The watched files (not directories) by inode, seen through the host root: a hard link or a bind
 * mount of /etc/shadow elsewhere is the same inode. Taken when the sensor loads; a file replaced
 * since (passwd writes a new /etc/shadow) is still matched by its path.
 */
export function watchedInodes(hostRoot: string, prefixes: readonly SensitivePrefix[]): WatchedInode[] {
  const out: WatchedInode[] = [];
  for (const p of prefixes) {
    if (p.path.endsWith('/')) continue;
    try {
      const st = statSync(hostPath(hostRoot, p.path));
      if (st.isFile()) out.push({ ino: st.ino, dev: kernelDev(st.dev), watch: p.watch });
    } catch {
      // absent here: matched by path when it appears
    }
  }
  return out;
}
