import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { SettingValue } from '../src/config/settings';
import { connectionsSource, type ConnectionsSource } from '../src/sources/host/connections';
import { processEventsSource, type ProcessEventsSource } from '../src/sources/host/process-events';
import { KERNEL_SENSOR_SETTINGS } from '../src/sources/host/kernel-sensor/settings';
import type { SourceDefinition } from '../src/sources/source';
import { SourceHarness } from '../test/harness/source-harness';

/**
 * The eBPF kernel sensor against the proc connector / polling, each figure in the same run:
 *  1. 2,000 execs of a short-lived binary with arguments, idle and with a busy loop on every core:
 *     share reported with the exact executable and full argv (sensor and proc connector watch the same run).
 *  2. 1,000 TCP connections of well under 10 ms to a loopback listener: share reported with the owning
 *     process (sensor vs sock_diag polling at the default interval).
 *  3. CPU per 1,000 execs: BPF programs (kernel.bpf_stats_enabled run time), the addon's consumer
 *     thread, and the JS side; each method alone.
 *  4. Idle CPU and RSS with the sensor loaded (and the BPF maps' memory).
 *  5. Ring-buffer loss under the fastest exec burst this machine makes (a C spawner, one per core),
 *     with the default and the smallest ring buffer, and what the ProcessEvents status says.
 */

const N = 2000;
const CONNECTIONS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (n: number, of: number): string => `${((100 * n) / of).toFixed(2)}%`;

function withSensorSettings(def: SourceDefinition): SourceDefinition {
  return { ...def, settings: [...def.settings, ...KERNEL_SENSOR_SETTINGS] };
}

async function watcher<T>(def: SourceDefinition, overrides: Record<string, SettingValue>): Promise<{ harness: SourceHarness; source: T }> {
  const harness = new SourceHarness(withSensorSettings(def), { kernelSensorExcludeSelf: false, ...overrides });
  const source = (await harness.start()) as T;
  return { harness, source };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

async function runLoop(script: string): Promise<number> {
  const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
  await exited(child);
  return child.pid ?? -1;
}

/** A busy loop per core, at normal priority, killed by PID. */
function busyLoops(): ChildProcess[] {
  return Array.from({ length: os.cpus().length }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
}

function stopLoops(loops: ChildProcess[]): void {
  for (const l of loops) l.kill('SIGKILL');
}

function captured(h: SourceHarness, loopPid: number, exe: string, cmd: string): { exe: number; full: number } {
  let withExe = 0;
  let full = 0;
  for (const e of h.eventsNamed('ProcessCreate')) {
    const p = e.Payload[0];
    if (!p || p.ParentProcessId !== loopPid) continue;
    if (p.Executable === exe) withExe++;
    if (p.Executable === exe && p.CommandLine === cmd) full++;
  }
  return { exe: withExe, full };
}

/** Run time of the sensor's BPF programs (ns) while kernel.bpf_stats_enabled is on; undefined when unreadable. */
function bpfRunTimeNs(): number | undefined {
  try {
    const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as Array<{ name?: string; run_time_ns?: number }>;
    return progs.filter((p) => p.name?.startsWith('on_')).reduce((sum, p) => sum + (p.run_time_ns ?? 0), 0);
  } catch {
    return undefined;
  }
}

function bpfMapBytes(): number | undefined {
  try {
    const maps = JSON.parse(execFileSync('bpftool', ['map', 'show', '-j'], { encoding: 'utf8' })) as Array<{ name?: string; bytes_memlock?: number }>;
    const names = new Set(['events', 'config', 'drops', 'excluded', 'prefixes', 'names', 'inflight', 'recs', 'paths']);
    return maps.filter((m) => m.name && names.has(m.name)).reduce((sum, m) => sum + (m.bytes_memlock ?? 0), 0);
  } catch {
    return undefined;
  }
}

const STATS_FILE = '/proc/sys/kernel/bpf_stats_enabled';

async function execCapture(): Promise<void> {
  console.log(`\n1. ${N} execs of /bin/true with three arguments: share with executable and full argv (same run)`);
  const exe = realpathSync('/bin/true');
  const cmd = '/bin/true alpha beta gamma';
  const script = `i=0; while [ $i -lt ${N} ]; do /bin/true alpha beta gamma; i=$((i+1)); done`;
  const ebpf = await watcher<ProcessEventsSource>(processEventsSource, { processEventsMethod: 'ebpf' });
  const netlink = await watcher<ProcessEventsSource>(processEventsSource, { processEventsMethod: 'netlink' });
  try {
    await sleep(300);
    for (const loaded of [false, true]) {
      const loops = loaded ? busyLoops() : [];
      await sleep(loaded ? 500 : 0);
      const started = Date.now();
      const loopPid = await runLoop(script);
      const ms = Date.now() - started;
      stopLoops(loops);
      await sleep(1500);
      const a = captured(ebpf.harness, loopPid, exe, cmd);
      const b = captured(netlink.harness, loopPid, exe, cmd);
      console.log(`  ${loaded ? `loaded (${loops.length} busy loops)` : 'idle'}: ${N} execs in ${ms} ms`);
      console.log(`    eBPF sensor          executable ${pct(a.exe, N).padStart(8)}   executable + full argv ${pct(a.full, N).padStart(8)}`);
      console.log(`    netlink proc conn.   executable ${pct(b.exe, N).padStart(8)}   executable + full argv ${pct(b.full, N).padStart(8)}`);
    }
  } finally {
    await ebpf.harness.stop();
    await netlink.harness.stop();
  }
}

async function connectionCapture(): Promise<void> {
  console.log(`\n2. ${CONNECTIONS} loopback TCP connections (connect, close at once): share reported with the owning process (same run)`);
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const ebpf = await watcher<ConnectionsSource>(connectionsSource, { connectionsMethod: 'ebpf', connectionsIncludeLoopback: true });
  const polling = await watcher<ConnectionsSource>(connectionsSource, { connectionsMethod: 'netlink', connectionsIncludeLoopback: true });
  try {
    const clientScript = `const net=require('net');let n=0,worst=0;const one=()=>{const t=process.hrtime.bigint();const s=net.connect(${port},'127.0.0.1',()=>s.destroy());s.on('close',()=>{const d=Number(process.hrtime.bigint()-t)/1e6;if(d>worst)worst=d;if(++n<${CONNECTIONS})one();else{console.log(worst.toFixed(2));process.exit(0)}});s.on('error',()=>{})};one();`;
    const started = Date.now();
    const client = spawn(process.execPath, ['-e', clientScript], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await exited(client);
    const ms = Date.now() - started;
    await sleep(2500); // the poller's interval and a drain
    const count = (h: SourceHarness): number =>
      h.eventsNamed('ConnectionCreate').filter((e) => e.Payload[0]?.RemotePort === String(port) && e.Payload[0]?.Direction === 'Out' && e.Payload[0]?.ProcessId === client.pid).length;
    console.log(`  ${CONNECTIONS} connections in ${ms} ms (longest connect-to-close ${out.trim()} ms)`);
    console.log(`    eBPF sensor                     with owning process ${pct(count(ebpf.harness), CONNECTIONS).padStart(8)}`);
    console.log(`    sock_diag polling (PT1S)        with owning process ${pct(count(polling.harness), CONNECTIONS).padStart(8)}`);
  } finally {
    server.close();
    await ebpf.harness.stop();
    await polling.harness.stop();
  }
}

async function cpuPerThousand(): Promise<void> {
  console.log(`\n3. CPU per 1,000 execs (${N} x /bin/true, each method alone; noisy on a shared machine)`);
  const statsWas = existsSync(STATS_FILE) ? readFileSync(STATS_FILE, 'utf8').trim() : undefined;
  try {
    if (statsWas !== undefined) writeFileSync(STATS_FILE, '1');
  } catch {
    // read-only /proc/sys: kernel time is then not measured
  }
  const script = `i=0; while [ $i -lt ${N} ]; do /bin/true alpha; i=$((i+1)); done`;
  const per1000 = (ms: number): string => `${((ms * 1000) / N).toFixed(1)} ms`;
  try {
    for (const method of ['ebpf', 'netlink'] as const) {
      const w = await watcher<ProcessEventsSource>(processEventsSource, { processEventsMethod: method });
      try {
        await sleep(300);
        const bpfBefore = method === 'ebpf' ? bpfRunTimeNs() : undefined;
        const threadBefore = method === 'ebpf' ? w.source.stats().sensor?.threadCpuNs ?? 0 : w.source.stats().native?.threadCpuNs ?? 0;
        const cpuBefore = process.cpuUsage();
        await runLoop(script);
        await sleep(500);
        const cpu = process.cpuUsage(cpuBefore);
        const threadMs = ((method === 'ebpf' ? w.source.stats().sensor?.threadCpuNs ?? 0 : w.source.stats().native?.threadCpuNs ?? 0) - threadBefore) / 1e6;
        const jsMs = (cpu.user + cpu.system) / 1000 - threadMs;
        const bpfAfter = method === 'ebpf' ? bpfRunTimeNs() : undefined;
        const kernel = bpfBefore !== undefined && bpfAfter !== undefined ? `BPF programs ${per1000((bpfAfter - bpfBefore) / 1e6)}, ` : '';
        const label = method === 'ebpf' ? 'eBPF sensor: ' : 'netlink:     ';
        const thread = method === 'ebpf' ? 'addon consumer thread' : 'reader threads (incl. /proc reads)';
        console.log(`    ${label}${kernel}${thread} ${per1000(threadMs)}, JS side ${per1000(jsMs)}, together ${per1000(threadMs + jsMs + (bpfBefore !== undefined && bpfAfter !== undefined ? (bpfAfter - bpfBefore) / 1e6 : 0))}`);
      } finally {
        await w.harness.stop();
      }
    }
  } finally {
    try {
      if (statsWas !== undefined) writeFileSync(STATS_FILE, statsWas);
    } catch {
      // nothing to restore
    }
  }
}

async function idleCost(): Promise<void> {
  console.log('\n4. Idle cost with the sensor loaded (process, network and file programs; 10 s)');
  const rssBefore = process.memoryUsage().rss;
  const w = await watcher<ProcessEventsSource>(processEventsSource, { processEventsMethod: 'ebpf' });
  const c = await watcher<ConnectionsSource>(connectionsSource, { connectionsMethod: 'ebpf' });
  try {
    await sleep(1000);
    const cpu = process.cpuUsage();
    const started = Date.now();
    await sleep(10_000);
    const used = process.cpuUsage(cpu);
    const elapsed = Date.now() - started;
    const maps = bpfMapBytes();
    console.log(`    CPU of this process while idle: ${((100 * (used.user + used.system)) / 1000 / elapsed).toFixed(2)}% of one core (the host's own activity goes through the sensor too)`);
    console.log(`    RSS ${(process.memoryUsage().rss / 1048576).toFixed(1)} MB (before loading: ${(rssBefore / 1048576).toFixed(1)} MB); BPF maps ${maps !== undefined ? `${(maps / 1048576).toFixed(2)} MB (charged to the cgroup, not in RSS)` : 'unknown (bpftool missing)'}`);
  } finally {
    await c.harness.stop();
    await w.harness.stop();
  }
}

const SPAWNER = `
#define _GNU_SOURCE
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
extern char **environ;
int main(int argc, char **argv) {
  if (argc < 3) return 0; /* run as the short-lived child: exit at once */
  int n = atoi(argv[1]), inflight = 0;
  static char pad[4097];
  int padLen = argc > 3 ? atoi(argv[3]) : 0;
  if (padLen > 4096) padLen = 4096;
  memset(pad, 'x', padLen);
  char *args[] = {argv[2], "burst", padLen > 0 ? pad : 0, 0};
  for (int i = 0; i < n; i++) {
    pid_t pid;
    if (posix_spawn(&pid, argv[2], 0, 0, args, environ) == 0) inflight++;
    while (inflight > 32 && waitpid(-1, 0, 0) > 0) inflight--;
    while (waitpid(-1, 0, WNOHANG) > 0) inflight--;
  }
  while (waitpid(-1, 0, 0) > 0) {}
  return 0;
}`;

async function burstLoss(): Promise<void> {
  console.log('\n5. Ring-buffer loss under the fastest exec burst (a posix_spawn loop per core, of a static binary)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eg-bench-burst-'));
  const bin = path.join(dir, 'spawner');
  try {
    writeFileSync(`${bin}.c`, SPAWNER);
    // Static: an exec without the dynamic loader is several times faster, so the burst is as fast as it gets.
    try {
      execFileSync('cc', ['-O2', '-static', '-o', bin, `${bin}.c`], { stdio: 'ignore' });
    } catch {
      execFileSync('cc', ['-O2', '-o', bin, `${bin}.c`]);
    }
  } catch (err) {
    console.log(`  SKIPPED: no C compiler for the spawner (${err instanceof Error ? err.message : String(err)})`);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const perSpawner = 10_000;
  const burst = async (pad = 0): Promise<{ ms: number; total: number; pids: Set<number | undefined> }> => {
    const started = Date.now();
    const spawners = Array.from({ length: os.cpus().length }, () => spawn(bin, [String(perSpawner), bin, String(pad)], { stdio: 'ignore' }));
    await Promise.all(spawners.map(exited));
    return { ms: Date.now() - started, total: perSpawner * spawners.length, pids: new Set(spawners.map((sp) => sp.pid)) };
  };
  try {
    const base = await burst();
    console.log(`  no watcher: ${base.total} execs in ${base.ms} ms (${Math.round((base.total * 1000) / base.ms)}/s)`);
    // The last run: 4 KB of argv per exec (4.2 KB records), the smallest ring: the one most likely to overflow.
    for (const [ring, withNetlink, pad] of [[1_048_576, true, 0], [1_048_576, false, 0], [65_536, false, 0], [65_536, false, 4000]] as const) {
      const w = await watcher<ProcessEventsSource>(processEventsSource, { processEventsMethod: 'ebpf', kernelSensorRingBufferBytes: ring });
      const netlink = withNetlink ? await watcher<ProcessEventsSource>(processEventsSource, { processEventsMethod: 'netlink' }) : undefined;
      try {
        await sleep(300);
        const { ms, total, pids } = await burst(pad);
        await sleep(1500);
        const seen = (h: SourceHarness): number => h.eventsNamed('ProcessCreate').filter((e) => pids.has(e.Payload[0]?.ParentProcessId as number) && String(e.Payload[0]?.CommandLine).startsWith(`${bin} burst`)).length;
        const s = w.source.stats().sensor;
        const n = netlink?.source.stats().native;
        console.log(`  ring buffer ${ring / 1024} KB${netlink ? ', proc connector watching the same run' : ', sensor alone'}${pad ? `, ${pad} bytes of argv per exec` : ''}: ${total} execs in ${ms} ms (${Math.round((total * 1000) / ms)}/s)`);
        console.log(`    eBPF sensor: ${pct(seen(w.harness), total)} reported with full argv; lost in the kernel (ring full): exec ${s?.kernelDrops[1] ?? '?'}, exit ${s?.kernelDrops[2] ?? '?'}; dropped in the addon (JS too slow): ${s?.droppedRecords ?? '?'}`);
        if (netlink) console.log(`    netlink:     ${pct(seen(netlink.harness), total)} reported with full argv; socket overruns ${n?.overruns ?? '?'}, dropped ${n?.droppedEvents ?? '?'}`);
        // The status check runs every 10 s: wait for it and show what an operator sees.
        await sleep(10_500);
        console.log(`    ProcessEvents status: ${JSON.stringify(w.harness.lastStatus())}`);
      } finally {
        await w.harness.stop();
        await netlink?.harness.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  console.log('Kernel sensor (eBPF) vs proc connector / polling. Shared 2-core machine: timing figures are noisy.');
  if (process.getuid?.() !== 0) {
    console.log('  SKIPPED: needs root for the kernel sensor and the proc connector');
    return;
  }
  // KERNEL_SENSOR_BENCH=1,5 runs only those sections.
  const only = process.env.KERNEL_SENSOR_BENCH?.split(',');
  // Idle cost first: its RSS figures are not blurred by the garbage of the other sections.
  const sections: Array<[string, () => Promise<void>]> = [['4', idleCost], ['1', execCapture], ['2', connectionCapture], ['3', cpuPerThousand], ['5', burstLoss]];
  for (const [id, section] of sections) if (!only || only.includes(id)) await section();
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
