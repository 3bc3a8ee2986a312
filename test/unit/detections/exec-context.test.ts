import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { containerIdFromCgroup, fdType, readExecContext, ttyName } from '../../../src/sources/host/process-events/exec-context';

const root = mkdtempSync(path.join(os.tmpdir(), 'h-detect-proc-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ID = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);

/** A fake /proc/<pid> with stat, cmdline, cgroup, links for exe, cwd and fds; a fake net/tcp table. */
function proc(pid: number, ppid: number, opts: { exe?: string; cmd?: string; tty?: number; cgroup?: string; fd0?: string; fd1?: string; cwd?: string; tcpInode?: string }): void {
  const dir = path.join(root, String(pid));
  mkdirSync(path.join(dir, 'fd'), { recursive: true });
  mkdirSync(path.join(dir, 'net'), { recursive: true });
  writeFileSync(path.join(dir, 'stat'), `${pid} (x y) S ${ppid} ${pid} ${pid} ${opts.tty ?? 0} -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n`);
  writeFileSync(path.join(dir, 'cmdline'), (opts.cmd ?? 'x').split(' ').join('\0') + '\0');
  writeFileSync(path.join(dir, 'cgroup'), opts.cgroup ?? '0::/user.slice\n');
  if (opts.exe) symlinkSync(opts.exe, path.join(dir, 'exe'));
  if (opts.cwd) symlinkSync(opts.cwd, path.join(dir, 'cwd'));
  if (opts.fd0) symlinkSync(opts.fd0, path.join(dir, 'fd', '0'));
  if (opts.fd1) symlinkSync(opts.fd1, path.join(dir, 'fd', '1'));
  const tcp = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  writeFileSync(path.join(dir, 'net', 'tcp'), tcp + (opts.tcpInode ? `   0: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 ${opts.tcpInode} 1 0000000000000000 20 4 30 10 -1\n` : ''));
  writeFileSync(path.join(dir, 'net', 'unix'), 'Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 777 /run/x.sock\n');
}

test('exec context from a prepared proc tree: parent, ancestors, cwd, tty, container, stdin/stdout kinds', () => {
  proc(1, 0, { exe: '/usr/lib/systemd/systemd', cmd: '/sbin/init' });
  proc(100, 1, { exe: '/usr/sbin/sshd', cmd: 'sshd: root@pts/0' });
  proc(200, 100, { exe: '/usr/bin/bash', cmd: 'bash -c x' });
  proc(300, 200, { exe: '/usr/bin/bash', cmd: 'bash -i', tty: (136 << 8) | 3, cwd: '/root', cgroup: `0::/system.slice/docker-${ID}.scope\n`, fd0: 'socket:[4242]', fd1: 'socket:[777]', tcpInode: '4242' });
  const ctx = readExecContext(root, 300, 200);
  assert.equal(ctx.ParentExecutable, '/usr/bin/bash');
  assert.equal(ctx.ParentCommandLine, 'bash -c x');
  assert.equal(ctx.AncestorExecutables, '/usr/bin/bash,/usr/sbin/sshd,/usr/lib/systemd/systemd');
  assert.equal(ctx.Cwd, '/root');
  assert.equal(ctx.Tty, 'pts/3');
  assert.equal(ctx.ContainerId, ID);
  assert.equal(ctx.StdinType, 'tcp');
  assert.equal(ctx.StdoutType, 'unix');
  // A gone process gives what could be read, never throws.
  assert.deepEqual(readExecContext(root, 999, 998), {});
});

test('socket kinds: the unix table is looked at first, but digits of the inode elsewhere in it (a path, a number column) do not make a TCP socket unix', () => {
  proc(400, 1, { exe: '/usr/bin/sh', fd0: 'socket:[5555]', fd1: 'socket:[5556]', tcpInode: '5555' });
  writeFileSync(
    path.join(root, '400', 'net', 'unix'),
    'Num       RefCount Protocol Flags    Type St Inode Path\n' +
      '0000000000005555: 00000002 00000000 00010000 0001 01 5556 /run/5555.sock\n' +
      '0000000000000001: 00000002 00000000 00010000 0001 01 9 /run/user/5555/bus\n',
  );
  const ctx = readExecContext(root, 400, 1);
  assert.equal(ctx.StdinType, 'tcp');
  assert.equal(ctx.StdoutType, 'unix');
});

test('tty numbers, fd link kinds, cgroup layouts (and hostile cgroup text stays fast)', () => {
  assert.equal(ttyName(0), undefined);
  assert.equal(ttyName((4 << 8) | 1), 'tty1');
  assert.equal(ttyName((4 << 8) | 64), 'ttyS0');
  assert.equal(ttyName((204 << 8) | 64), 'ttyAMA0');
  assert.equal(ttyName((5 << 8) | 1), 'console');
  const none = () => 'other';
  assert.equal(fdType('pipe:[1]', none), 'pipe');
  assert.equal(fdType('/dev/null', none), 'null');
  assert.equal(fdType('/dev/pts/2', none), 'tty');
  assert.equal(fdType('/var/log/x', none), 'file');
  assert.equal(fdType('anon_inode:[eventfd]', none), 'other');
  assert.equal(fdType(undefined, none), undefined);
  assert.equal(containerIdFromCgroup(`12:pids:/docker/${ID}\n`), ID);
  assert.equal(containerIdFromCgroup(`0::/kubepods/besteffort/pod1/cri-containerd-${ID}.scope\n`), ID);
  assert.equal(containerIdFromCgroup('0::/user.slice/user-0.slice/session-1.scope\n'), undefined);
  const hostile = `0::/${'docker-'.repeat(50_000)}${'a'.repeat(63)}g\n`;
  const t0 = Date.now();
  assert.equal(containerIdFromCgroup(hostile), undefined);
  assert.ok(Date.now() - t0 < 2000);
});
