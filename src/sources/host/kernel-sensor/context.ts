import { containerDirectory } from '../../docker/container-directory';
import { CgroupContainers } from './cgroup-containers';
import { ProcessTable } from './process-table';
import type { RecordHeader, SensorRecord } from './records';

/**
 * What the kernel sensor's events are enriched with, shared by the sources that use it: the
 * process table (parents, ancestors, owners of connections) and container attribution
 * (cgroup id -> container id -> container and module name).
 */
export class SensorEnrichment {
  readonly processes: ProcessTable;
  readonly cgroups: CgroupContainers;

  constructor(procRoot: string, hostRoot: string) {
    this.processes = new ProcessTable(procRoot);
    this.cgroups = new CgroupContainers(hostRoot);
  }

  /**
   * Learns a process from its exec record and its exit (every subscriber feeds it, so an owner is
   * known even when it exits before its connection or file record is handled). After its exit it
   * stays readable in the small table of recent exits; a reused pid is overwritten at its exec.
   */
  learn(rec: SensorRecord): void {
    if (rec.type === 'exec') this.processes.set(rec.pid, { executable: rec.executable || undefined, commandLine: rec.argv.join(' ') || undefined, ppid: rec.ppid });
    else if (rec.type === 'exit') this.processes.exited(rec.pid);
  }

  /** ContainerId / ContainerName / CgroupId of a record, as ExtraDetails strings (ContainerName: the IoT Edge module name when it is one). */
  container(h: RecordHeader): Record<string, string> {
    const id = this.cgroups.pick(h.cgroupId, h.cgroupV1Id);
    const out: Record<string, string> = { CgroupId: id.toString() };
    const containerId = this.cgroups.containerOf(id);
    if (containerId) {
      out.ContainerId = containerId;
      const entry = containerDirectory.get(containerId);
      const name = entry?.moduleName || entry?.name;
      if (name) out.ContainerName = name;
    }
    return out;
  }
}

let shared: { key: string; value: SensorEnrichment } | undefined;

/** One enrichment per host root (the sources share it, and with it the process table). */
export function sensorEnrichment(procRoot: string, hostRoot: string): SensorEnrichment {
  const key = `${procRoot}\0${hostRoot}`;
  if (!shared || shared.key !== key) shared = { key, value: new SensorEnrichment(procRoot, hostRoot) };
  return shared.value;
}
