import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defaultConfigView } from '../src/config/defaults';
import { type SettingValue } from '../src/config/settings';
import { createEvent, type SecurityEvent } from '../src/core/event';
import type { Logger } from '../src/core/logger';
import { openPipeline } from '../src/pipeline/pipeline';
import type { Clock, EventPipeline } from '../src/pipeline/types';
import type { OutgoingMessage, Transport } from '../src/core/transport';
import { EVENT_TYPES } from '../src/agent/event-registry';
import { settingsCatalogue } from '../src/agent/catalogue';

/**
 * Pipeline cost and upstream efficiency, on a simulated clock (time advances as the workload says, so
 * aggregation windows and send timers fire without waiting) with a transport that accepts at once.
 *  (a) raw events/s through aggregation, queueing (journal included) and message building, on the
 *      main thread, beside JSON.stringify of the same events measured in the same run;
 *  (b) raw events per 4 KB billing unit: 20 commands run 10,000 times each, with and without aggregation;
 *  (c) RSS and live heap sampled across a 1,000,000-event run.
 */

export const AGENT = { agentId: '072f3eca-3db0-45ba-8174-fa383bc93caf', agentVersion: '0.1.0', eventTypes: EVENT_TYPES };
const BILLING_UNIT = 4096;

export class SimulatedClock implements Clock {
  private t = Date.parse('2026-11-23T00:00:00.000Z');
  private timers = new Map<number, { due: number; fn: () => void }>();
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { due: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time forward, firing due timers in order and letting the sends they start complete. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let next: { due: number; fn: () => void } | undefined;
      for (const [id, timer] of this.timers) if (timer.due <= end && (next === undefined || timer.due < next.due)) [nextId, next] = [id, timer];
      if (next === undefined) break;
      this.timers.delete(nextId);
      this.t = next.due;
      next.fn();
      for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
    }
    this.t = end;
  }
}

export class CountingTransport implements Transport {
  readonly name = 'counting';
  messages = 0;
  bytes = 0;
  units = 0;
  events = 0;
  async send(message: OutgoingMessage): Promise<void> {
    const bytes = Buffer.byteLength(message.body);
    this.messages++;
    this.bytes += bytes;
    this.units += Math.ceil(bytes / BILLING_UNIT);
    this.events += message.eventCount;
  }
}

export const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

async function open(clock: SimulatedClock, transport: Transport, overrides: Record<string, SettingValue>): Promise<{ pipeline: EventPipeline; cleanup: () => void }> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-bench-pipeline-'));
  const pipeline = await openPipeline({ ...AGENT, stateDir, transport, clock, log: quiet }, defaultConfigView(settingsCatalogue([]), overrides));
  return { pipeline, cleanup: () => rmSync(stateDir, { recursive: true, force: true }) };
}

/** A device's day in miniature: mostly repeated process and connection activity, some unique events. */
export function mixedWorkload(count: number, at: Date): SecurityEvent[] {
  const commands = Array.from({ length: 200 }, (_, k) => {
    const exe = ['/usr/bin/python3', '/bin/sh', '/usr/bin/curl', '/usr/sbin/iptables', '/usr/bin/docker'][k % 5]!;
    return { exe, cmd: `${exe} /opt/app/task-${k}.py --sensor ${k % 17} --interval 5`, uid: String(k % 3 === 0 ? 0 : 1000), user: k % 3 === 0 ? 'root' : 'app' };
  });
  const out: SecurityEvent[] = [];
  for (let i = 0; i < count; i++) {
    const r = i % 100;
    const c = commands[(i * 7919) % commands.length]!;
    const now = { now: at };
    if (r < 55) {
      out.push(createEvent('ProcessCreate', 'Triggered', [{ Executable: c.exe, ProcessId: 10_000 + (i % 30_000), ParentProcessId: 1, UserId: c.uid, UserName: c.user, CommandLine: c.cmd, ExtraDetails: execContext(i, i % 200) }], now));
    } else if (r < 80) {
      out.push(createEvent('ProcessTerminate', 'Triggered', [{ Executable: c.exe, ProcessId: 10_000 + (i % 30_000), ExitStatus: i % 50 === 0 ? 1 : 0 }], now));
    } else if (r < 97) {
      const inbound = r % 2 === 0;
      out.push(
        createEvent(
          'ConnectionCreate',
          'Triggered',
          [
            {
              LocalAddress: '127.0.0.1',
              LocalPort: inbound ? String(8000 + (i % 4)) : String(30_000 + (i % 20_000)),
              RemoteAddress: `127.0.${i % 3}.${1 + (i % 7)}`,
              RemotePort: inbound ? String(40_000 + (i % 20_000)) : String([443, 8883, 5671][i % 3]),
              Direction: inbound ? 'In' : 'Out',
              Protocol: 'TCP',
              ProcessId: 10_000 + (i % 30_000),
              UserId: c.uid,
              Executable: c.exe,
              CommandLine: c.cmd,
            },
          ],
          now,
        ),
      );
    } else {
      out.push(
        createEvent('Login', 'Triggered', [{ ProcessId: 900 + i, UserName: `user${i % 50}`, Executable: '/usr/sbin/sshd', Operation: 'PAM:authentication', Result: i % 4 === 0 ? 'Fail' : 'Success', RemoteAddress: '127.0.0.1', RemotePort: String(50_000 + (i % 10_000)) }], now),
      );
    }
  }
  return out;
}

interface MemorySample {
  rss: number;
  heap: number;
}

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
const rate = (n: number, ms: number): string => `${Math.round((n * 1000) / ms).toLocaleString('en-US')} events/s`;

interface ThroughputResult {
  total: number;
  ms: number;
  baselineMs: number;
  messages: number;
  events: number;
  bytes: number;
  dropped: number;
  left: number;
}

/** Throughput and memory runs: sends every few seconds and 10 s aggregation windows, so queues stay short. */
const SHORT_WINDOWS = {
  highPriorityMessageFrequency: 'PT5S',
  lowPriorityMessageFrequency: 'PT10S',
  aggregationIntervalProcessCreate: 'PT10S',
  aggregationIntervalProcessTerminate: 'PT10S',
  aggregationIntervalConnectionCreate: 'PT10S',
};
/** Raw events/s through the pipeline for `pool` cycled to `TOTAL` events, and JSON.stringify of the same. */
async function measureThroughput(pool: readonly SecurityEvent[], TOTAL: number): Promise<ThroughputResult> {
  /** Simulated pace: 20,000 raw events per simulated second, the clock moving every 1,000 events (50 ms). */
  const STEP = 1000;
  let sink = 0;
  const b0 = performance.now();
  for (let i = 0; i < TOTAL; i++) sink += JSON.stringify(pool[i % pool.length]).length;
  const baselineMs = performance.now() - b0;
  if (sink === 0) throw new Error('baseline optimised away');

  const clock = new SimulatedClock();
  const transport = new CountingTransport();
  const { pipeline, cleanup } = await open(clock, transport, SHORT_WINDOWS);
  pipeline.start();
  const t0 = performance.now();
  for (let i = 0; i < TOTAL; i++) {
    pipeline.ingest(pool[i % pool.length]!);
    if ((i + 1) % STEP === 0) await clock.advance(50);
  }
  await pipeline.flush();
  const ms = performance.now() - t0;
  const s = pipeline.stats();
  await pipeline.close(1000);
  cleanup();
  return {
    total: TOTAL,
    ms,
    baselineMs,
    messages: transport.messages,
    events: transport.events,
    bytes: transport.bytes,
    dropped: s.dropped.High + s.dropped.Low + s.dropped.Operational,
    left: s.queued.High.events + s.queued.Low.events + s.queued.Operational.events,
  };
}

async function throughput(): Promise<void> {
  const at = new Date(Date.parse('2026-11-23T00:00:00.000Z'));
  const mixed = await measureThroughput(mixedWorkload(100_000, at), 1_000_000);
  const unique = await measureThroughput(mixedWorkload(100_000, at).filter((e) => e.Name === 'Login').concat(uniqueLogins(97_000, at)), 300_000);
  console.log('(a) throughput (simulated 20,000 events/s; 10 s windows and sends; main thread)');
  for (const [label, r] of [
    ['mixed, 1,000,000 raw events: 55% ProcessCreate, 25% ProcessTerminate, 17% ConnectionCreate, 3% Login', mixed],
    ['worst case, 300,000 raw events, every one unique and queued (Login)', unique],
  ] as const) {
    console.log(`    ${label}`);
    console.log(`      pipeline (aggregation + journaled queues + building, no-op transport) ${rate(r.total, r.ms).padStart(18)}  (${(r.ms / 1000).toFixed(2)} s)`);
    console.log(`      baseline: JSON.stringify of the same events                            ${rate(r.total, r.baselineMs).padStart(18)}  -> pipeline / baseline ${(r.baselineMs / r.ms).toFixed(2)}`);
    console.log(`      sent ${r.messages} messages, ${r.events.toLocaleString('en-US')} events, ${mb(r.bytes)}; dropped ${r.dropped}; left queued ${r.left}`);
  }
}

function uniqueLogins(count: number, at: Date): SecurityEvent[] {
  return Array.from({ length: count }, (_, i) =>
    createEvent('Login', 'Triggered', [{ ProcessId: 900 + i, UserName: `user${i % 50}`, Executable: '/usr/sbin/sshd', Operation: 'PAM:authentication', Result: i % 4 === 0 ? 'Fail' : 'Success', RemoteAddress: '127.0.0.1', RemotePort: String(50_000 + (i % 10_000)) }], { now: at }),
  );
}

/** A collection function, when one can be had (the flag must be set before `gc` is first looked up). */
function collector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** (c): the same workload generated on the fly (no input pool), sampled every 50,000 events after a full GC. */
async function memory(): Promise<void> {
  const TOTAL = 1_000_000;
  const CHUNK = 10_000;
  const gc = collector();
  const clock = new SimulatedClock();
  const transport = new CountingTransport();
  const { pipeline, cleanup } = await open(clock, transport, SHORT_WINDOWS);
  pipeline.start();
  const samples: MemorySample[] = [];
  const sample = (): void => {
    gc?.();
    const m = process.memoryUsage();
    samples.push({ rss: m.rss, heap: m.heapUsed });
  };
  sample();
  for (let done = 0; done < TOTAL; done += CHUNK) {
    for (const e of mixedWorkload(CHUNK, new Date(clock.now()))) pipeline.ingest(e);
    await clock.advance(1000);
    if ((done + CHUNK) % 50_000 === 0) sample();
  }
  await pipeline.flush();
  sample();
  const s = pipeline.stats();
  await pipeline.close(1000);
  cleanup();
  const peak = samples.reduce((p, x) => ({ rss: Math.max(p.rss, x.rss), heap: Math.max(p.heap, x.heap) }), { rss: 0, heap: 0 });
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  console.log(`(c) memory across a ${TOTAL.toLocaleString('en-US')}-event run (same workload generated on the fly; ${samples.length} samples${gc ? ', each after a full GC' : ', no GC control'})`);
  console.log(`    RSS        start ${mb(first.rss)}  peak ${mb(peak.rss)}  end ${mb(last.rss)}`);
  console.log(`    live heap  start ${mb(first.heap)}  peak ${mb(peak.heap)}  end ${mb(last.heap)}`);
  console.log(`    ingested ${s.ingested.toLocaleString('en-US')}, sent ${transport.events.toLocaleString('en-US')} events in ${transport.messages} messages, dropped ${s.dropped.High + s.dropped.Low + s.dropped.Operational}`);
}

/**
 * The exec-time context the host sources add to ProcessCreate (exec-context.ts, kernel-sensor/payloads.ts),
 * varying as on a real host: the same job started by cron, by systemd, from an SSH session (its tty and
 * login shell), from different working directories, with pipes or files on stdin/stdout.
 */
function execContext(run: number, k: number): Record<string, string> {
  const how = run % 4;
  const ctx: Record<string, string> = { Cwd: ['/', '/home/edge', `/opt/edge/job-${k}`, `/tmp/run-${run % 97}`][(run >> 2) % 4]! };
  if (how === 0) {
    ctx.ParentExecutable = '/bin/sh';
    ctx.ParentCommandLine = `/bin/sh -c /usr/bin/python3 /opt/edge/job-${k}.py --device sensor-${k} --mode collect`;
    ctx.AncestorExecutables = '/bin/sh,/usr/sbin/cron,/sbin/init';
    ctx.StdinType = 'null';
    ctx.StdoutType = 'pipe';
  } else if (how === 1) {
    ctx.ParentExecutable = '/usr/lib/systemd/systemd';
    ctx.ParentCommandLine = '/sbin/init';
    ctx.AncestorExecutables = '/usr/lib/systemd/systemd';
    ctx.StdinType = 'null';
    ctx.StdoutType = 'unix';
  } else {
    const tty = `pts/${run % 5}`;
    ctx.ParentExecutable = '/usr/bin/bash';
    ctx.ParentCommandLine = how === 2 ? '-bash' : `bash /home/edge/loop-${run % 13}.sh`;
    ctx.AncestorExecutables = `/usr/bin/bash,/usr/sbin/sshd,/usr/sbin/sshd,/sbin/init`;
    ctx.Tty = tty;
    ctx.StdinType = 'tty';
    ctx.StdoutType = run % 3 === 0 ? 'file' : 'tty';
  }
  return ctx;
}

async function efficiency(aggregation: boolean): Promise<{ messages: number; bytes: number; units: number; dropped: number; events: number }> {
  const COMMANDS = 20;
  const RUNS = 10_000;
  const DAY_MS = 86_400_000;
  const total = COMMANDS * RUNS;
  const clock = new SimulatedClock();
  const transport = new CountingTransport();
  const { pipeline, cleanup } = await open(clock, transport, {
    aggregationEnabledProcessCreate: aggregation,
    // Big enough that nothing is dropped in either run: the comparison is about bytes sent.
    maxLocalCacheSizeInBytes: 200_000_000,
  });
  pipeline.start();
  const step = DAY_MS / total;
  for (let i = 0; i < total; i++) {
    const k = i % COMMANDS;
    const cmd = `/usr/bin/python3 /opt/edge/job-${k}.py --device sensor-${k} --mode collect`;
    const pid = 2000 + (i % 30_000);
    pipeline.ingest(createEvent('ProcessCreate', 'Triggered', [{ Executable: '/usr/bin/python3', ProcessId: pid, ParentProcessId: pid - 1, UserId: '1000', UserName: 'edge', CommandLine: cmd, ExtraDetails: execContext(Math.floor(i / COMMANDS), k) }], { now: new Date(clock.now()) }));
    if ((i + 1) % 1000 === 0) {
      await clock.advance(step * 1000);
    }
  }
  await pipeline.flush();
  const s = pipeline.stats();
  await pipeline.close(1000);
  cleanup();
  return { messages: transport.messages, bytes: transport.bytes, units: transport.units, dropped: s.dropped.High + s.dropped.Low, events: total };
}

/** `node dist/bench/pipeline.js efficiency` runs only (b), the deterministic billing figure. */
export async function run(only = process.argv.slice(2).includes('efficiency') ? 'efficiency' : 'all'): Promise<void> {
  const started = Date.now();
  console.log('bench/pipeline — simulated clock, no-op transport, journal on the local disk');
  if (only === 'all') {
    await memory();
    await throughput();
  }
  const withAgg = await efficiency(true);
  const without = await efficiency(false);
  console.log('(b) upstream efficiency: 20 distinct commands x 10,000 runs = 200,000 ProcessCreate over a simulated day (each with the varying exec-time context real sources add: Cwd, tty, parent command line, ...), default settings but a 200 MB cache so that the run without aggregation drops nothing');
  for (const [label, r] of [['with aggregation (PT1H windows)', withAgg], ['without aggregation', without]] as const) {
    console.log(
      `    ${label.padEnd(32)} ${String(r.messages).padStart(5)} messages  ${mb(r.bytes).padStart(9)}  ${String(r.units).padStart(6)} x 4 KB units  -> ${(r.events / r.units).toFixed(1)} raw events per unit  (dropped ${r.dropped})`,
    );
  }
  console.log(`    aggregation sends ${(without.units / withAgg.units).toFixed(0)}x fewer billing units`);
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (require.main === module) void run();
