import { closeSync, fstatSync, openSync, readSync, constants } from 'node:fs';

export const MAX_RULES_FILE_BYTES = 1024 * 1024;

/**
 * Reads the operator's rules file defensively: opened with O_NOFOLLOW|O_NONBLOCK (no symlink, no
 * blocking on a FIFO), must be a regular file of at most 1 MiB, read through the same descriptor.
 * Throws an Error whose message says what is wrong (never the content).
 */
export function readUserRulesFile(file: string): string {
  if (!file.startsWith('/')) throw new Error('detectionRulesFile must be an absolute path');
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ELOOP' ? 'detectionRulesFile is a symbolic link (not followed)' : `detectionRulesFile cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('detectionRulesFile is not a regular file');
    if (st.size > MAX_RULES_FILE_BYTES) throw new Error(`detectionRulesFile is larger than ${MAX_RULES_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
