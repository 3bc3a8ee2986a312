import { readlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * Whether this process shares the network namespace of the host's init (pid 1 of `procRoot`, the
 * host's with `pid: host`). undefined when it cannot be told: pid 1 not inspectable, or the
 * module's own pid namespace (then pid 1 is the container's init).
 */
export function inHostNetworkNamespace(procRoot: string): boolean | undefined {
  try {
    const own = readlinkSync('/proc/self/ns/net');
    const init = readlinkSync(path.join(procRoot, '1', 'ns', 'net'));
    return own === init;
  } catch {
    return undefined;
  }
}
