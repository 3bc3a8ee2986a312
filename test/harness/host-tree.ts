import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A prepared host root in a temp directory: write host paths into it, remove it at the end. */
export class HostTree {
  readonly root: string;

  constructor(prefix = 'edgeguard-hostroot-') {
    this.root = mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  path(hostAbsolute: string): string {
    return path.join(this.root, hostAbsolute);
  }

  write(hostAbsolute: string, content: string | Buffer, mode?: number): string {
    const file = this.path(hostAbsolute);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    if (mode !== undefined) chmodSync(file, mode);
    return file;
  }

  mkdir(hostAbsolute: string, mode?: number): string {
    const dir = this.path(hostAbsolute);
    mkdirSync(dir, { recursive: true });
    if (mode !== undefined) chmodSync(dir, mode);
    return dir;
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
