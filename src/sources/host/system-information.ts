import os from 'node:os';
import path from 'node:path';
import { createEvent, type ExtraDetails, type PayloadItem } from '../../core/event';
import { connectDocker } from '../docker/client';
import type { Source, SourceContext, SourceDefinition } from '../source';
import { resolveProcRoot } from './common/process-info';
import {
  bootDeviceFromCmdline,
  cleanText,
  osVendor,
  parseMeminfo,
  parseUptime,
  readHostName,
  readOsRelease,
  readSmall,
  readSmallHost,
  rootDeviceFromMountinfo,
} from './system-readers';
import { defineEventType } from '../../core/event-types';

export const SYSTEM_INFORMATION_EVENT = 'SystemInformation';
export const SYSTEM_INFORMATION = defineEventType({ name: SYSTEM_INFORMATION_EVENT, category: 'Periodic', defaultPriority: 'Low', schema: 'official' });

/** How the container runtime is described when no Docker daemon answers. */
export const RUNTIME_UNAVAILABLE = 'unavailable';

export interface SystemFacts {
  item: PayloadItem;
  /** What could not be read, for the source's status. */
  missing: string[];
}

/** The Docker daemon's version, or undefined when none answers within `timeoutMs`. */
export async function dockerVersion(dockerHost: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    const connection = await connectDocker({ dockerHost, timeoutMs });
    return `docker ${connection.daemonVersion} (API ${connection.daemonApiVersion})`;
  } catch {
    return undefined;
  }
}

/**
 * One SystemInformation payload item from the host files under `hostRoot` (os-release, /proc/meminfo,
 * hostname, kernel command line, uptime). `containerRuntime` is added as ExtraDetails.
 */
export function collectSystemFacts(hostRoot: string, containerRuntime: string | undefined): SystemFacts {
  const procRoot = resolveProcRoot(hostRoot);
  const missing: string[] = [];
  const item: PayloadItem = {};
  const extra: ExtraDetails = {};

  const release = readOsRelease(hostRoot);
  if (release) {
    const name = release.NAME ?? release.ID;
    if (name) item.OSName = name;
    const version = release.VERSION ?? release.VERSION_ID ?? release.BUILD_ID;
    if (version) item.OSVersion = version;
    const vendor = osVendor(release);
    if (vendor) item.OSVendor = vendor;
    if (release.PRETTY_NAME) extra.PrettyName = release.PRETTY_NAME;
  } else missing.push('os-release');
  if (item.OSName === undefined) item.OSName = cleanText(readSmall(path.join(procRoot, 'sys/kernel/ostype'))) ?? os.type();

  // The kernel is shared with the host: its machine name is the host's architecture.
  item.OsArchitecture = os.machine();

  const hostName = readHostName(hostRoot, procRoot);
  if (hostName) item.HostName = hostName;
  else missing.push('hostname');

  const bios = cleanText(readSys('/sys/class/dmi/id/bios_version', hostRoot));
  if (bios) item.BIOSVersion = bios;
  const model = cleanText(readSmall(path.join(procRoot, 'device-tree/model')) ?? readSys('/sys/class/dmi/id/product_name', hostRoot));
  if (model) extra.Model = model;

  const cmdline = readSmall(path.join(procRoot, 'cmdline'));
  const mountinfo = readSmall(path.join(procRoot, '1/mountinfo'), 1024 * 1024) ?? readSmall(path.join(procRoot, 'self/mountinfo'), 1024 * 1024);
  const boot = (cmdline !== undefined ? bootDeviceFromCmdline(cmdline) : undefined) ?? (mountinfo !== undefined ? rootDeviceFromMountinfo(mountinfo) : undefined);
  if (boot) item.BootDevice = boot;
  else missing.push('boot device');

  const meminfo = readSmall(path.join(procRoot, 'meminfo'));
  const mem = meminfo !== undefined ? parseMeminfo(meminfo) : {};
  if (mem.totalKB !== undefined) item.TotalPhysicalMemoryInKB = mem.totalKB;
  if (mem.freeKB !== undefined) item.FreePhysicalMemoryInKB = mem.freeKB;
  if (mem.swapTotalKB !== undefined) item.TotalVirtualMemoryInKB = mem.swapTotalKB;
  if (mem.swapFreeKB !== undefined) item.FreeVirtualMemoryInKB = mem.swapFreeKB;
  if (mem.totalKB === undefined) missing.push('meminfo');

  const kernelRelease = cleanText(readSmall(path.join(procRoot, 'sys/kernel/osrelease'))) ?? os.release();
  extra.KernelRelease = kernelRelease;
  const kernelVersion = cleanText(readSmall(path.join(procRoot, 'sys/kernel/version')));
  if (kernelVersion) extra.KernelVersion = kernelVersion;
  const uptimeText = readSmall(path.join(procRoot, 'uptime'));
  const uptime = uptimeText !== undefined ? parseUptime(uptimeText) : undefined;
  if (uptime !== undefined) extra.UptimeSeconds = String(uptime);
  else missing.push('uptime');
  extra.ContainerRuntime = containerRuntime ?? RUNTIME_UNAVAILABLE;

  item.ExtraDetails = extra;
  return { item, missing };
}

/** /sys is usually not under a bind mount of the host's /; the kernel's own view is the same from the container. */
function readSys(file: string, hostRoot: string): string | undefined {
  return readSmallHost(hostRoot, file) ?? readSmall(file);
}

class SystemInformationSource implements Source {
  private lastMissing = '';

  constructor(private readonly ctx: SourceContext) {}

  async snapshot(): Promise<void> {
    const dockerHost = this.ctx.config.has('dockerHost') ? this.ctx.config.string('dockerHost') : '';
    const runtime = await dockerVersion(dockerHost);
    const facts = collectSystemFacts(this.ctx.hostRoot, runtime);
    this.ctx.emit(createEvent(SYSTEM_INFORMATION_EVENT, 'Periodic', [facts.item]));
    const missing = facts.missing.join(', ');
    if (missing !== this.lastMissing) {
      if (missing) this.ctx.log.warn('some system facts cannot be read', { missing, hostRoot: this.ctx.hostRoot });
      this.lastMissing = missing;
    }
    const method = `host files under ${this.ctx.hostRoot}`;
    this.ctx.setStatus(missing ? { state: 'degraded', reason: `cannot read: ${missing}`, method } : { state: 'running', method });
  }

  async stop(): Promise<void> {
    // Nothing to release: every snapshot opens and closes what it reads.
  }
}

/** Periodic SystemInformation snapshot: OS, kernel, host name, memory, boot device, uptime, container runtime. */
export const systemInformationSource: SourceDefinition = {
  name: 'SystemInformation',
  description: 'OS, kernel, host name, memory, boot device, uptime and container runtime version, at every snapshot.',
  events: [SYSTEM_INFORMATION],
  settings: [],
  async start(ctx) {
    const source = new SystemInformationSource(ctx);
    ctx.setStatus({ state: 'running', method: `host files under ${ctx.hostRoot}` });
    return source;
  },
};
