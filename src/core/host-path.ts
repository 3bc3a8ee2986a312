import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** As the kernel's MAXSYMLINKS: more links on one path is a loop (ELOOP). */
const MAX_LINKS = 40;

function loopError(hostAbsolute: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${hostAbsolute}: too many levels of symbolic links`);
  error.code = 'ELOOP';
  return error;
}

/**
 * A host path (e.g. /var/log/auth.log, from a setting) as a path under the host root that cannot
 * leave it: `..` stops at the host's `/`, and symbolic links are followed the way the host itself
 * would follow them — an absolute target is taken from the host root, not from EdgeGuard's own
 * file system (where `/proc/self/environ` holds the module's credentials). The result holds no
 * symbolic link at the time of the call. A component that does not exist (yet) ends the
 * resolution: the rest is joined as it is, and is resolved again on the next call. With
 * `followFinal: false` a link in the last component is left as it is (for lstat).
 */
export function confinedHostPath(hostRoot: string, hostAbsolute: string, options: { followFinal?: boolean } = {}): string {
  const followFinal = options.followFinal ?? true;
  const root = path.resolve(hostRoot);
  const wanted = path.posix.resolve('/', hostAbsolute);
  if (root === '/') return wanted;
  // Components still to walk, and the host path resolved so far (always absolute, no '..').
  let pending = wanted.split('/').filter((c) => c !== '' && c !== '.');
  let resolved = '/';
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved = path.posix.dirname(resolved);
      continue;
    }
    const next = path.posix.join(resolved, part);
    let isLink: boolean;
    try {
      // A missing component is common (a log file a distribution lacks, polled every few seconds): no exception for it.
      const st = lstatSync(path.join(root, next), { throwIfNoEntry: false });
      if (!st) return path.join(root, next, ...pending);
      isLink = st.isSymbolicLink();
    } catch {
      return path.join(root, next, ...pending);
    }
    // lstat semantics: the last component itself is not followed.
    if (!isLink || (!followFinal && pending.length === 0)) {
      resolved = next;
      continue;
    }
    if (++links > MAX_LINKS) throw loopError(wanted);
    const target = readlinkSync(path.join(root, next));
    if (target.startsWith('/')) resolved = '/';
    pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
  }
  return path.join(root, resolved);
}
