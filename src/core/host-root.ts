import { existsSync } from 'node:fs';
import path from 'node:path';
import { confinedHostPath } from './host-path';

/** EDGEGUARD_HOST_ROOT, else /host when it exists (the module's mount of the host), else /. */
export function resolveHostRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EDGEGUARD_HOST_ROOT) return path.resolve(env.EDGEGUARD_HOST_ROOT);
  return existsSync('/host') ? '/host' : '/';
}

/**
 * A host path (e.g. /etc/passwd) as seen through the host root, confined to it: no `..` and no
 * symbolic link leads out of the host root (see confinedHostPath). Throws ELOOP on a link loop.
 */
export function hostPath(hostRoot: string, hostAbsolutePath: string): string {
  return confinedHostPath(hostRoot, hostAbsolutePath);
}
