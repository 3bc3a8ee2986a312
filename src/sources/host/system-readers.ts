import path from 'node:path';
import { hostPath } from '../../core/host-root';
import { readRegularPrefix } from '../../core/safe-read';

/**
 * Readers of the host facts SystemInformation reports. Each takes its root (host root or proc root)
 * so tests can use a prepared tree; garbage or a missing file gives undefined, never an exception.
 */

/**
 * Text of a small regular file (its first `maxBytes`), or undefined. A FIFO, a device (/dev/zero)
 * or a missing file gives undefined: the safe reader refuses them without blocking.
 */
export function readSmall(file: string, maxBytes = 64 * 1024): string | undefined {
  try {
    return readRegularPrefix(file, maxBytes).toString('utf8');
  } catch {
    return undefined;
  }
}

/** readSmall of a host path through the host root (confined to it); undefined on a link loop too. */
export function readSmallHost(hostRoot: string, file: string, maxBytes?: number): string | undefined {
  try {
    return readSmall(hostPath(hostRoot, file), maxBytes);
  } catch {
    return undefined;
  }
}

/** Printable, one line, bounded: what may go into a payload string. */
export function cleanText(text: string | undefined, max = 256): string | undefined {
  if (text === undefined) return undefined;
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean === '' ? undefined : clean.slice(0, max);
}

/** os-release(5): KEY=value lines, values optionally quoted with shell escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1);
    value = value.replace(/\\([\\$"'`])/g, '$1');
    const clean = cleanText(value);
    if (clean) out[m[1]!] = clean;
  }
  return out;
}

/** /etc/os-release, else /usr/lib/os-release, under the host root. */
export function readOsRelease(hostRoot: string): Record<string, string> | undefined {
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    const text = readSmallHost(hostRoot, file);
    if (text === undefined) continue;
    const fields = parseOsRelease(text);
    if (Object.keys(fields).length > 0) return fields;
  }
  return undefined;
}

const VENDORS: Record<string, string> = {
  debian: 'Debian',
  ubuntu: 'Canonical',
  raspbian: 'Raspberry Pi Foundation',
  rhel: 'Red Hat',
  centos: 'Red Hat',
  fedora: 'Red Hat',
  alpine: 'Alpine Linux',
  mariner: 'Microsoft',
  azurelinux: 'Microsoft',
  sles: 'SUSE',
  opensuse: 'SUSE',
  'opensuse-leap': 'SUSE',
  poky: 'Yocto Project',
  balena: 'balena',
  'balena-os': 'balena',
};

/** The OS vendor: os-release VENDOR_NAME, else a known distribution's vendor, else the OS name. */
export function osVendor(release: Record<string, string>): string | undefined {
  return release.VENDOR_NAME ?? (release.ID ? VENDORS[release.ID.toLowerCase()] : undefined) ?? release.NAME;
}

export interface MemInfo {
  totalKB?: number;
  freeKB?: number;
  swapTotalKB?: number;
  swapFreeKB?: number;
}

/** /proc/meminfo: "MemTotal:  2048000 kB" lines. Free memory is MemAvailable when the kernel has it. */
export function parseMeminfo(text: string): MemInfo {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d{1,15})\s*kB\s*$/.exec(line);
    if (m) fields.set(m[1]!, Number(m[2]));
  }
  return {
    totalKB: fields.get('MemTotal'),
    freeKB: fields.get('MemAvailable') ?? fields.get('MemFree'),
    swapTotalKB: fields.get('SwapTotal'),
    swapFreeKB: fields.get('SwapFree'),
  };
}

/** The root device from the kernel command line (root=/dev/mmcblk0p2, root=PARTUUID=…). */
export function bootDeviceFromCmdline(cmdline: string): string | undefined {
  for (const word of cmdline.split(/\s+/)) {
    if (word === '--') break;
    if (word.startsWith('root=')) return cleanText(word.slice(5), 128);
  }
  return undefined;
}

/** The device mounted at / in a mountinfo(5) text, e.g. /dev/sda1 or overlay. */
export function rootDeviceFromMountinfo(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    // The last mount at / wins (later mounts hide earlier ones).
    if (left[4] === '/' && right[1]) found = cleanText(right[1], 128);
  }
  return found;
}

/** Seconds since boot from /proc/uptime. */
export function parseUptime(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s/.exec(text + ' ');
  return m ? Math.floor(Number(m[1])) : undefined;
}

/** The host name: the host's /etc/hostname when seen through a mounted host root, else the kernel's. */
export function readHostName(hostRoot: string, procRoot: string): string | undefined {
  const fromKernel = () => cleanText(readSmall(path.join(procRoot, 'sys/kernel/hostname')), 253);
  const fromEtc = () => cleanText(readSmallHost(hostRoot, '/etc/hostname')?.split('\n')[0], 253);
  return path.resolve(hostRoot) === '/' ? fromKernel() ?? fromEtc() : fromEtc() ?? fromKernel();
}
