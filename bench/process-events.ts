import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import type { SettingValue } from '../src/config/settings';
import { processEventsSource, type ProcessEventsSource } from '../src/sources/host/process-events';
import { SourceHarness } from '../test/harness/source-harness';

/**
 * ProcessEvents capture and cost. One shell loop launches N short-lived processes back to back
 * while the netlink source and the /proc polling source (default interval) watch the same run.
 * Capture counts ProcessCreate events whose parent is the loop shell and whose Executable /
 * CommandLine are exactly right. CPU: the native reader thread's own clock, the polling scans'
 * measured time, and the whole process's time (collector JS side = total - native - polling).
 */

const N = 2000;

interface Workload {
  label: string;
  script: string;
  executable: string;
  commandLine: string;
}

interface Watcher {
  label: string;
  harness: SourceHarness;
  source: ProcessEventsSource;
}

async function startWatcher(label: string, overrides: Record<string, SettingValue>): Promise<Watcher> {
  const harness = new SourceHarness(processEventsSource, overrides);
  const source = (await harness.start()) as ProcessEventsSource;
  return { label, harness, source };
}

function runLoop(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(child.pid ?? -1));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (n: number): string => `${((100 * n) / N).toFixed(1)}%`;

const DELAY_BUCKETS = ['<50', '50-100', '100-250', '250-500', '500-1000', '>=1000'];

/** Reader-side figures of one netlink watcher: misses, where they were read, how late execs were read. */
function printReaderStats(w: Watcher): void {
  const s = w.source.stats().native;
  if (!s) return;
  const hist = s.execReadDelayHistogram.map((n, i) => `${DELAY_BUCKETS[i]}: ${n}`).join(', ');
  console.log(`    ${w.label}: ${s.readers} reader(s), ${s.pinnedReaders} pinned, priority ${s.priority}; losses: ${s.overruns} socket overruns, ${s.droppedEvents} dropped`);
  console.log(`      exe unreadable at exec: ${s.exeUnreadable} (${s.exeUnreadableOtherCpu} of them read on another CPU than the exec ran on)`);
  console.log(`      delay kernel exec event -> exe read (us): ${hist}`);
}

function capture(w: Watcher, loopPid: number, workload: Workload): { exe: number; cmd: number; noExe: number; parentAtExit: number } {
  let exe = 0;
  let cmd = 0;
  let noExe = 0;
  let parentAtExit = 0;
  for (const event of w.harness.eventsNamed('ProcessCreate')) {
    const p = event.Payload[0];
    if (!p || p.ParentProcessId !== loopPid) continue;
    const extra = p.ExtraDetails as Record<string, string> | undefined;
    if (extra?.MissingFields?.includes('Executable')) noExe++;
    if (extra?.ParentProcessIdAtExit === 'true') parentAtExit++;
    if (p.Executable === workload.executable) exe++;
    if (p.Executable === workload.executable && p.CommandLine === workload.commandLine) cmd++;
  }
  return { exe, cmd, noExe, parentAtExit };
}

async function measure(watchers: Watcher[], workload: Workload): Promise<void> {
  const netlink = watchers.find((w) => w.source.method === 'netlink');
  const polling = watchers.find((w) => w.source.method === 'polling');
  const before = { cpu: process.cpuUsage(), native: netlink?.source.stats().native?.threadCpuNs ?? 0, poll: polling?.source.stats().pollCpuMicros ?? 0 };
  const started = Date.now();
  const loopPid = await runLoop(workload.script);
  const loopMs = Date.now() - started;
  // Let batches drain and the poller run once more after the last process.
  await sleep(1200);
  const cpu = process.cpuUsage(before.cpu);
  const totalMs = (cpu.user + cpu.system) / 1000;
  const nativeMs = ((netlink?.source.stats().native?.threadCpuNs ?? 0) - before.native) / 1e6;
  const pollMs = ((polling?.source.stats().pollCpuMicros ?? 0) - before.poll) / 1000;
  console.log(`  ${workload.label}: ${N} launched in ${loopMs} ms`);
  for (const w of watchers) {
    const c = capture(w, loopPid, workload);
    console.log(`    ${w.label.padEnd(34)} with executable ${pct(c.exe).padStart(6)}   with full command line ${pct(c.cmd).padStart(6)}`);
    if (c.noExe > 0) console.log(`      reported without executable (MissingFields) but with the loop as parent: ${c.noExe}, ${c.parentAtExit} of them with the parent from the exit event`);
  }
  const per1000 = (ms: number): string => `${((ms * 1000) / N).toFixed(1)} ms`;
  if (netlink) {
    const jsMs = totalMs - nativeMs - pollMs;
    console.log(`    CPU per 1,000 execs: native reader thread ${per1000(nativeMs)}, JS side (events, payloads, harness) ${per1000(jsMs)}, together ${per1000(nativeMs + jsMs)}`);
  }
  if (polling) console.log(`    /proc polling scans in the same window: ${pollMs.toFixed(1)} ms CPU`);
}

export async function run(): Promise<void> {
  console.log('ProcessEvents: capture of short-lived processes, netlink proc connector vs /proc polling (same run)');
  if (process.getuid?.() !== 0) {
    console.log('  SKIPPED: needs root for the netlink proc connector');
    return;
  }
  const workloads: Workload[] = [
    { label: `${N} x /bin/true`, script: `i=0; while [ $i -lt ${N} ]; do /bin/true; i=$((i+1)); done`, executable: realpathSync('/bin/true'), commandLine: '/bin/true' },
    { label: `${N} x sh -c "echo x"`, script: `i=0; while [ $i -lt ${N} ]; do sh -c "echo x" >/dev/null; i=$((i+1)); done`, executable: realpathSync('/bin/sh'), commandLine: 'sh -c echo x' },
  ];
  const netlink = await startWatcher('netlink (realtime, per-CPU readers)', { processEventsMethod: 'netlink' });
  const polling = await startWatcher('/proc polling (PT1S, default)', { processEventsMethod: 'polling' });
  try {
    const priority = netlink.source.stats().native?.priority;
    await sleep(300);
    console.log(`  reader thread priority: ${netlink.source.stats().native?.priority ?? priority}`);
    for (const workload of workloads) await measure([netlink, polling], workload);
    printReaderStats(netlink);
  } finally {
    await netlink.harness.stop();
    await polling.harness.stop();
  }
  // The same /bin/true run with one unpinned reader, and with normal priority, to show what each buys.
  const variants: Array<[string, Record<string, SettingValue>]> = [
    ['netlink (realtime, one unpinned reader)', { processEventsPerCpuReaders: false }],
    ['netlink (normal-priority reader)', { processEventsRealtimeReader: false }],
  ];
  for (const [label, overrides] of variants) {
    const w = await startWatcher(label, { processEventsMethod: 'netlink', ...overrides });
    try {
      await sleep(300);
      await measure([w], workloads[0]!);
      printReaderStats(w);
    } finally {
      await w.harness.stop();
    }
  }
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
