import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Idle cost of EdgeGuard's host collectors: every host source in ALL_SOURCES started at its default
 * settings (not the standalone ones) in a child process, beside a bare `node` process and a process
 * that only loads EdgeGuard's dependencies, all three measured over the same window from /proc
 * (utime + stime of all threads, VmRSS). Targets: < 1% of one core, RSS within 20 MB of deps-only.
 * The machine is not quiet (the proc connector sees every exec on it), so the events the collectors
 * saw in the window are printed beside the figures.
 */

// Long enough for V8's memory reducer (a GC some seconds after start-up) to run before the window.
const WARMUP_MS = 30_000;
const WINDOW_MS = 20_000;
const SAMPLE_MS = 1_000;
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: fixed at 100 on Linux whatever CONFIG_HZ is

/** Events only host collectors emit: a source emitting nothing else is a host source. */
const DEPENDENCIES = ['azure-iot-device', 'azure-iot-device-mqtt', 'dockerode', 'js-yaml', 'ajv', 'winston'];
const IDLE = 'setInterval(() => {}, 1 << 30);';
const requireDeps = DEPENDENCIES.map((d) => `require(${JSON.stringify(d)});`).join(' ');

/**
 * The collectors' process: dependencies loaded as in the agent, host sources started, events counted.
 * `only` restricts it to some sources (the private-namespace run).
 */
function collectorsScript(distRoot: string, stateRoot: string, only?: readonly string[]): string {
  const mod = (p: string): string => JSON.stringify(path.join(distRoot, p));
  return `
    ${requireDeps}
    const { HOST_SOURCES } = require(${mod('src/sources/index.js')});
    const { settingsCatalogue } = require(${mod('src/agent/catalogue.js')});
    const { defaultConfigView } = require(${mod('src/config/defaults.js')});
    const { getLogger, setLogLevel } = require(${mod('src/core/logger.js')});
    const { resolveHostRoot } = require(${mod('src/core/host-root.js')});
    const os = require('os'), fs = require('fs'), path = require('path');
    setLogLevel('error');
    const only = ${JSON.stringify(only ?? null)};
    const host = HOST_SOURCES.filter((s) => !only || only.includes(s.name));
    const config = defaultConfigView(settingsCatalogue(host));
    const counts = {};
    const running = {};
    const report = { started: [], unavailable: {}, statuses: {} };
    (async () => {
      for (const def of host) {
        const stateDir = fs.mkdtempSync(path.join(${JSON.stringify(stateRoot)}, def.name + '-'));
        try {
          const source = await def.start({
            config, log: getLogger('bench/' + def.name), hostRoot: resolveHostRoot(), stateDir,
            emit: (e) => { counts[e.Name] = (counts[e.Name] || 0) + 1; },
            setStatus: (s) => { report.statuses[def.name] = s.state + (s.reason ? ': ' + s.reason : ''); },
          });
          if (source.snapshot) await source.snapshot();
          running[def.name] = source;
          report.started.push(def.name);
        } catch (err) {
          report.unavailable[def.name] = err.reason || err.message;
        }
      }
      console.log(JSON.stringify(report));
      process.on('message', (m) => {
        if (m !== 'counts') return;
        const stats = {};
        for (const [name, source] of Object.entries(running)) if (typeof source.stats === 'function') stats[name] = source.stats();
        process.send({ counts: { ...counts }, stats });
      });
      console.log('ready');
    })();
    ${IDLE}`;
}

interface Sample {
  ticks: number;
  rssKb: number;
}

function sample(pid: number): Sample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { ticks, rssKb: Number(rss?.[1] ?? 0) };
}

function start(name: string, script: string, ipc = false, privateNetwork = false): { name: string; child: ChildProcess; ready: Promise<string> } {
  const stdio = ['ignore', 'pipe', 'inherit', ...(ipc ? (['ipc'] as const) : [])] as const;
  // unshare -n execs node in a new, empty network namespace (the pid stays the same).
  const child = privateNetwork
    ? spawn('unshare', ['-n', process.execPath, '-e', script], { stdio: [...stdio] })
    : spawn(process.execPath, ['-e', script], { stdio: [...stdio] });
  const ready = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve(out);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code})`)));
  });
  return { name, child, ready };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function run(): Promise<void> {
  console.log('## host-idle: host collectors idle at default intervals vs bare node vs dependencies only');
  const distRoot = path.resolve(__dirname, '..'); // dist/
  // The collector processes are killed, not stopped: their state directories live here and go at the end.
  const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-bench-idle-'));
  const bare = start('bare node', `console.log('ready'); ${IDLE}`);
  const deps = start('deps only', `${requireDeps} console.log('ready'); ${IDLE}`);
  const collectors = start('host collectors', collectorsScript(distRoot, stateRoot), true);
  // This machine is shared with other test runs, whose connections keep Connections reading the tables:
  // the socket sources alone in an empty network namespace show their cost on a really quiet host.
  const canUnshare = process.getuid?.() === 0;
  const quietNet = canUnshare ? start('sockets, quiet ns', collectorsScript(distRoot, stateRoot, ['Connections', 'ListeningPorts']), true, true) : undefined;
  if (!quietNet) console.log('SKIPPED: private network namespace run (needs root for unshare -n)');
  const all = quietNet ? [bare, deps, collectors, quietNet] : [bare, deps, collectors];
  try {
    const collectorOutput = await collectors.ready;
    await Promise.all([bare.ready, deps.ready, quietNet?.ready]);
    const report = JSON.parse(collectorOutput.split('\n')[0]!) as { started: string[]; unavailable: Record<string, string>; statuses: Record<string, string> };
    console.log(`host sources started: ${report.started.join(', ') || 'none'}`);
    for (const [name, reason] of Object.entries(report.unavailable)) console.log(`  not running here: ${name}: ${reason}`);
    for (const [name, status] of Object.entries(report.statuses)) if (!status.startsWith('running')) console.log(`  status ${name}: ${status}`);

    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const before = await collectorReport(collectors.child);
    const qBefore = quietNet ? await collectorReport(quietNet.child) : undefined;
    const first = all.map((p) => sample(p.child.pid!));
    const rss: number[][] = all.map(() => []);
    const t0 = Date.now();
    while (Date.now() - t0 < WINDOW_MS) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      all.forEach((p, i) => rss[i]!.push(sample(p.child.pid!).rssKb));
    }
    const seconds = (Date.now() - t0) / 1000;
    const last = all.map((p) => sample(p.child.pid!));
    const after = await collectorReport(collectors.child);

    const rows = all.map((p, i) => {
      const cpuPercent = (100 * (last[i]!.ticks - first[i]!.ticks)) / CLOCK_TICKS_PER_SECOND / seconds;
      return {
        name: p.name, cpuPercent, rssMb: median(rss[i]!) / 1024, cpuMs: ((last[i]!.ticks - first[i]!.ticks) * 1000) / CLOCK_TICKS_PER_SECOND,
        rssFirstMb: rss[i]![0]! / 1024, rssLastMb: rss[i]![rss[i]!.length - 1]! / 1024,
      };
    });
    console.log(`window ${seconds.toFixed(1)} s after ${WARMUP_MS / 1000} s warm-up; CPU from /proc/<pid>/stat (10 ms ticks), RSS median of ${rss[0]!.length} samples`);
    for (const r of rows) console.log(`  ${r.name.padEnd(18)} CPU ${r.cpuPercent.toFixed(2)}% of one core (${r.cpuMs.toFixed(0)} ms)   RSS ${r.rssMb.toFixed(1)} MB (${r.rssFirstMb.toFixed(1)} -> ${r.rssLastMb.toFixed(1)})`);
    const unsettled = rows.filter((r) => r.rssFirstMb - r.rssLastMb > 5).map((r) => r.name);
    if (unsettled.length > 0) {
      console.log(`NOTE: V8's memory reducer ran inside the window for ${unsettled.join(', ')} (RSS dropped > 5 MB): the RSS comparison is unsettled, run again`);
    }
    const [b, d, c, q] = rows as [typeof rows[0], typeof rows[0], typeof rows[0], typeof rows[0] | undefined];
    console.log(
      `collectors vs deps-only: RSS +${(c.rssMb - d.rssMb).toFixed(1)} MB (target < 20 MB), x${(c.rssMb / d.rssMb).toFixed(2)}, CPU +${(c.cpuPercent - d.cpuPercent).toFixed(2)} points; ` +
        `vs bare node: RSS x${(c.rssMb / b.rssMb).toFixed(2)}, CPU +${(c.cpuPercent - b.cpuPercent).toFixed(2)} points (target < 1% of a core: ${c.cpuPercent < 1 ? 'met' : 'NOT met'})`,
    );
    const seen = Object.keys(after.counts).map((k) => `${k} ${(after.counts[k] ?? 0) - (before.counts[k] ?? 0)}`);
    console.log(`events the collectors emitted in the window (activity of other processes on this machine): ${seen.join(', ') || 'none'}`);
    printSourceCosts(before.stats, after.stats, seconds);
    if (quietNet && q) {
      const qAfter = await collectorReport(quietNet.child);
      console.log(`Connections + ListeningPorts in an empty network namespace (nothing opens there): CPU ${q.cpuPercent.toFixed(2)}% of one core, RSS +${(q.rssMb - d.rssMb).toFixed(1)} MB vs deps-only`);
      printSourceCosts(qBefore!.stats, qAfter.stats, seconds);
    }
  } finally {
    for (const p of all) p.child.kill('SIGKILL');
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

interface CollectorReport {
  counts: Record<string, number>;
  /** stats() of the sources that have one (Connections, ProcessEvents). */
  stats: Record<string, Record<string, unknown>>;
}

function collectorReport(child: ChildProcess): Promise<CollectorReport> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as CollectorReport));
    child.send('counts');
  });
}

/** Where the collectors' CPU goes, from the sources' own counters over the window. */
function printSourceCosts(before: CollectorReport['stats'], after: CollectorReport['stats'], seconds: number): void {
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const conn = [before.Connections, after.Connections];
  if (conn[0] && conn[1]) {
    const d = (k: string): number => num(conn[1]![k]) - num(conn[0]![k]);
    console.log(
      `  Connections: ${d('polls')} polls, ${d('tableReads')} read the tables (TCP open counters moved), ${d('reported')} reported, ${d('ownerScans')} fd scans; ` +
        `${(d('pollCpuMicros') / 1000).toFixed(1)} ms CPU (${((d('pollCpuMicros') / 1e4) / seconds).toFixed(3)}% of a core)`,
    );
  }
  const pe = [before.ProcessEvents, after.ProcessEvents];
  if (pe[0] && pe[1]) {
    // The proc connector's reader threads, or the kernel sensor's consumer thread.
    const nat = (s: Record<string, unknown>): number => num(((s.native ?? s.sensor) as Record<string, unknown> | undefined)?.threadCpuNs);
    const execs = num(pe[1].creates) - num(pe[0].creates);
    const threadMs = (nat(pe[1]) - nat(pe[0])) / 1e6;
    console.log(`  ProcessEvents (${String(pe[1].method)}): ${execs} execs seen, native ${pe[1].method === 'ebpf' ? 'consumer' : 'reader'} thread ${threadMs.toFixed(1)} ms CPU (${((threadMs / 10) / seconds).toFixed(3)}% of a core)`);
  }
}

if (require.main === module) {
  run().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
