import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface FakeProcess {
  pid: number;
  ppid: number;
  comm: string;
  uid: number;
  exe?: string;
  argv: string[];
  startTime: number;
}

/** Writes /proc/<pid>/{stat,status,cmdline,exe} for one process under a prepared proc root. */
export function writeFakeProcess(procRoot: string, p: FakeProcess): void {
  const dir = path.join(procRoot, String(p.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fields = [p.pid, `(${p.comm})`, 'S', p.ppid, p.pid, p.pid, 0, -1, 4194560, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, p.startTime, 1000, 100];
  writeFileSync(path.join(dir, 'stat'), fields.join(' ') + '\n');
  writeFileSync(path.join(dir, 'status'), `Name:\t${p.comm}\nTgid:\t${p.pid}\nPPid:\t${p.ppid}\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\n`);
  writeFileSync(path.join(dir, 'cmdline'), p.argv.map((a) => a + '\0').join(''));
  if (p.exe) symlinkSync(p.exe, path.join(dir, 'exe'));
}
