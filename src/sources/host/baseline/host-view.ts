import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { confinedHostPath } from '../../../core/host-path';
import { hostPath } from '../../../core/host-root';
import { readRegularPrefix, readRegularText } from '../../../core/safe-read';

/** Host configuration files (sshd_config, login.defs…) are small; a bigger one is not read. */
const MAX_HOST_CONFIG_BYTES = 4 * 1024 * 1024;
import { inHostNetworkNamespace } from '../network-namespace';
import { resolveProcRoot } from '../common/process-info';
import { readSshdConfig, type SshdConfig } from './sshd-config';

/** Limits of the checks that walk the file system. */
export interface BaselineLimits {
  /** Files examined by the world-writable walk before it stops (the check then reports Err). */
  worldWritableScanLimit: number;
}

export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The errno code (EACCES…) or message of an error, without the file content it may be about. */
export { errorCode as errorText } from '../../../core/error-text';

/**
 * The host as the baseline checks see it: every path goes through the host root, /proc/sys through
 * the host's proc. One view per snapshot; parsed files (sshd_config) are cached for its lifetime.
 */
export class HostView {
  readonly procRoot: string;
  private sshd?: SshdConfig;

  constructor(
    readonly hostRoot: string,
    readonly limits: BaselineLimits,
  ) {
    this.procRoot = resolveProcRoot(hostRoot);
  }

  path(hostAbsolute: string): string {
    return hostPath(this.hostRoot, hostAbsolute);
  }

  /** File text, or undefined when the file does not exist; other errors (EACCES…) are thrown. */
  readText(hostAbsolute: string): string | undefined {
    try {
      return readRegularText(this.path(hostAbsolute), MAX_HOST_CONFIG_BYTES);
    } catch (err) {
      if (isMissing(err)) return undefined;
      // Some read errors (EISDIR) carry no path; the check's Err result should say which file.
      const e = err as NodeJS.ErrnoException;
      e.path ??= this.path(hostAbsolute);
      throw e;
    }
  }

  stat(hostAbsolute: string): Stats | undefined {
    try {
      return statSync(this.path(hostAbsolute));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  lstat(hostAbsolute: string): Stats | undefined {
    try {
      return lstatSync(confinedHostPath(this.hostRoot, hostAbsolute, { followFinal: false }));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Names in a host directory (sorted), or [] when it does not exist. */
  list(hostAbsolute: string): string[] {
    try {
      return readdirSync(this.path(hostAbsolute)).sort();
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  exists(hostAbsolute: string): boolean {
    return this.lstat(hostAbsolute) !== undefined;
  }

  /** A kernel parameter (net.ipv4.ip_forward) from the host's /proc/sys; undefined when the kernel has none. */
  sysctl(name: string): string | undefined {
    try {
      return readRegularPrefix(path.join(this.procRoot, 'sys', ...name.split('.')), 64 * 1024).toString('utf8').trim();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** False when this process visibly is not in the host's network namespace (its net.* sysctls are not the host's). */
  inHostNetworkNamespace(): boolean | undefined {
    return inHostNetworkNamespace(this.procRoot);
  }

  sshdConfig(): SshdConfig {
    this.sshd ??= readSshdConfig((p) => this.readText(p), (dir) => this.list(dir));
    return this.sshd;
  }
}
