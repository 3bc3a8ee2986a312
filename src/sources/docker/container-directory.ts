/**
 * Which containers exist, by id: fed by the ContainerRuntime source (its inventory and the
 * containers it inspects on start), read by the host sources that see a container id in the kernel
 * (the kernel sensor's cgroup attribution) and want its name. In-process and bounded; nothing is
 * fetched from the daemon on a lookup, so a reader never waits on Docker.
 */

export interface ContainerEntry {
  id: string;
  name: string;
  /** The IoT Edge module name, when the container is one. */
  moduleName?: string;
}

const LIMIT = 4096;

export class ContainerDirectory {
  private readonly byId = new Map<string, ContainerEntry>();

  set(entry: ContainerEntry): void {
    this.byId.delete(entry.id);
    this.byId.set(entry.id, entry);
    if (this.byId.size > LIMIT) this.byId.delete(this.byId.keys().next().value!);
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  /** By full 64-hex id. */
  get(id: string): ContainerEntry | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** The process-wide directory. */
export const containerDirectory = new ContainerDirectory();
