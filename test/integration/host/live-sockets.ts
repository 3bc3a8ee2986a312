import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { parseCmdline, formatCommandLine } from '../../../src/sources/host/common/process-info';

/** Helpers for tests on this machine's real sockets (loopback only). */

export const NODE_EXECUTABLE = realpathSync(process.execPath);

/** This process's command line as EdgeGuard reports it (from /proc/self/cmdline). */
export function ownCommandLine(): string {
  return formatCommandLine(parseCmdline(readFileSync('/proc/self/cmdline')));
}

export function listenTcp(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

export function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

export function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function bindUdp(type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(type);
    socket.once('error', reject);
    socket.bind(0, host, () => resolve(socket));
  });
}

export function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A child node process running `script` (one line, so its command line is predictable); it prints
 * one line (e.g. a port) when ready. Killed by the caller.
 */
export async function spawnNode(script: string): Promise<{ child: ChildProcess; line: string; commandLine: string }> {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  return { child, line, commandLine: `${process.execPath} -e ${script}` };
}

export function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** `ss` (iproute2), or a reason it is missing. */
export function ssAvailable(): string | undefined {
  const r = spawnSync('ss', ['-V'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `ss (iproute2) not available: ${r.error?.message ?? r.stderr}` : undefined;
}

export interface SsListener {
  protocol: 'TCP' | 'UDP';
  address: string;
  port: number;
  pids: number[];
}

/** `ss -tulpnH`: listening TCP and unconnected UDP sockets of this network namespace. */
export function ssListeners(): SsListener[] {
  const r = spawnSync('ss', ['-tulpnH'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ss failed: ${r.stderr}`);
  const out: SsListener[] = [];
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const local = f[4]!;
    const colon = local.lastIndexOf(':');
    const port = Number(local.slice(colon + 1));
    if (!Number.isInteger(port) || port === 0) continue; // "*": not bound to a port
    // ss prints a dual-stack IPv6 wildcard socket as "*", an IPv6-only one as "[::]".
    const raw = local.slice(0, colon).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const address = raw === '*' ? '::' : raw;
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    out.push({ protocol: f[0] === 'tcp' ? 'TCP' : 'UDP', address, port, pids });
  }
  return out;
}
