import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfigView } from '../src/config/defaults';
import { settingsCatalogue } from '../src/agent/catalogue';
import { CONFIG_KEY } from '../src/config/settings';
import type { SecurityEvent } from '../src/core/event';
import { Baseline } from '../src/detections/baseline';
import { DetectionEngine, NO_TUNING } from '../src/detections/engine';
import { compileRules, shippedRuleSources } from '../src/detections/loader';
import { DetectionStage } from '../src/detections/stage';
import { openPipeline } from '../src/pipeline/pipeline';
import { AgentProcess, builtAgentSkipReason } from '../test/harness/agent-process';
import { EdgeHubStandIn, edgeHubStandInSkipReason } from '../test/harness/edgehub-standin';
import { childEnvironment } from '../test/harness/iot-environment';
import { AGENT, CountingTransport, mixedWorkload, quiet, SimulatedClock } from './pipeline';

/**
 * Detections:
 *  (a) events/s through the engine alone with the whole catalogue enabled (every operator list set,
 *      range bounds set, baseline past learning), on one core, beside JSON.stringify of the same events;
 *  (b) the pipeline's events/s with the detections stage on beside off, same workload, same run;
 *  (c) alert latency, action -> edgeHub stand-in, with default frequencies (High every PT7M): the agent
 *      as IoT Edge runs it, a program started from a temporary directory (EG-PROC-008) each time.
 */

function withContext(events: SecurityEvent[]): SecurityEvent[] {
  return events.map((e, i) => {
    if (e.Name !== 'ProcessCreate') return e;
    const item = { ...e.Payload[0]!, ExtraDetails: { ParentExecutable: '/usr/bin/bash', ParentCommandLine: 'bash /opt/app/run.sh', AncestorExecutables: '/usr/bin/bash,/usr/lib/systemd/systemd', Cwd: '/opt/app', StdinType: 'null', StdoutType: i % 2 ? 'pipe' : 'file' } };
    return { ...e, Payload: [item] };
  });
}

function fullCatalogueEngine(now: () => number): DetectionEngine {
  const lists = [
    { list: 'custom_allowed_users', items: ['root', 'app'], append: true },
    { list: 'custom_allowed_processes', items: ['/usr/bin/*', '/bin/*', '/usr/sbin/*'], append: true },
    { list: 'custom_allowed_outbound', items: ['127.0.0.0/8', '10.0.0.0/8'], append: true },
    { list: 'allowed_images', items: ['mcr.microsoft.com/*'], append: true },
    { list: 'bad_addresses', items: ['203.0.113.0/24', '198.51.100.0/24'], append: true },
    { list: 'bad_domains', items: ['evil.example'], append: true },
  ];
  const { rules, defs } = compileRules([...shippedRuleSources(), { file: 'bench lists', text: JSON.stringify(lists) }]);
  const t0 = now();
  const baseline = new Baseline(undefined, 1, t0 - 10);
  const engine = new DetectionEngine(rules, now, baseline);
  engine.setRules(rules, new Set([...defs.lists].filter(([, v]) => v.length > 0).map(([k]) => k)));
  engine.setTuning({ ...NO_TUNING, numbers: new Map([['detectionConnectionsMax', 1e9], ['detectionFailedLoginsMax', 1e9]]) });
  return engine;
}

function engineThroughput(pool: readonly SecurityEvent[], total: number): void {
  let t = Date.parse('2026-11-23T00:00:00Z');
  const engine = fullCatalogueEngine(() => t);
  let alerts = 0;
  const emit = (): void => {
    alerts++;
  };
  for (let i = 0; i < 50_000; i++) engine.observe(pool[i % pool.length]!, emit); // warm-up
  let sink = 0;
  const b0 = performance.now();
  for (let i = 0; i < total; i++) sink += JSON.stringify(pool[i % pool.length]).length;
  const baselineMs = performance.now() - b0;
  if (sink === 0) throw new Error('optimised away');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    engine.observe(pool[i % pool.length]!, emit);
    if ((i & 1023) === 0) {
      t += 50;
      engine.tick(emit);
    }
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const rules = engine.catalogue().length;
  console.log(`(a) engine, whole catalogue (${rules} rules), ${total.toLocaleString('en')} events of the mixed workload with exec context`);
  console.log(`    ${Math.round(total / (ms / 1000)).toLocaleString('en')} events/s (wall), ${Math.round(total / ((cpu.user + cpu.system) / 1e6)).toLocaleString('en')} events/s per CPU second; target >= 200,000/s`);
  console.log(`    JSON.stringify of the same events: ${Math.round(total / (baselineMs / 1000)).toLocaleString('en')} events/s (engine cost = ${(ms / baselineMs).toFixed(2)}x a stringify)`);
  console.log(`    alerts emitted: ${alerts}; state: ${JSON.stringify(engine.stateSizes())}`);
}

async function pipelineRate(pool: readonly SecurityEvent[], total: number, detections: boolean): Promise<{ wall: number; cpu: number }> {
  const clock = new SimulatedClock();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'h-detect-bench-'));
  const config = defaultConfigView(settingsCatalogue(), { lowPriorityMessageFrequency: 'PT10S', aggregationIntervalProcessCreate: 'PT10S', aggregationIntervalProcessTerminate: 'PT10S', aggregationIntervalConnectionCreate: 'PT10S' });
  let stage: DetectionStage | undefined;
  if (detections) {
    stage = new DetectionStage({ log: quiet, now: () => clock.now() });
    stage.configure(config);
  }
  const pipeline = await openPipeline({ ...AGENT, stateDir, transport: new CountingTransport(), clock, log: quiet, detections: stage?.factory }, config);
  pipeline.start();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < total; i++) {
    pipeline.ingest(pool[i % pool.length]!);
    if ((i + 1) % 1000 === 0) await clock.advance(50);
  }
  await pipeline.flush();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  await pipeline.close(1000);
  rmSync(stateDir, { recursive: true, force: true });
  return { wall: total / (ms / 1000), cpu: total / ((cpu.user + cpu.system) / 1e6) };
}

async function latency(): Promise<void> {
  const skip = edgeHubStandInSkipReason() ?? builtAgentSkipReason() ?? (process.getuid?.() === 0 ? undefined : 'needs root (proc connector)');
  if (skip) {
    console.log(`(c) alert latency: SKIP (${skip})`);
    return;
  }
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'h-detect-bench-state-'));
  const bin = mkdtempSync(path.join(os.tmpdir(), 'h-detect-bench-bin-'));
  const hub = await EdgeHubStandIn.start({ desired: { [CONFIG_KEY]: {} } });
  const agent = new AgentProcess(childEnvironment({ ...hub.devEnvironment(), EDGEGUARD_STATE_DIR: stateDir, EDGEGUARD_HOST_ROOT: '/' }));
  try {
    await hub.waitUntil(() => agent.lines.some((l) => l.includes('EdgeGuard running')), 30_000, 'agent running');
    await new Promise((r) => setTimeout(r, 1500));
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) {
      const exe = path.join(bin, `probe-${i}`);
      copyFileSync('/bin/true', exe);
      const since = Date.now();
      spawn(exe, [], { stdio: 'ignore' });
      const out = await hub.waitForOutput((o) => o.receivedAt >= since && o.body.includes('"EG-PROC-008"') && o.body.includes(`probe-${i}"`), 15_000);
      samples.push(out.receivedAt - since);
      await new Promise((r) => setTimeout(r, 200));
    }
    samples.sort((a, b) => a - b);
    const pct = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!;
    console.log(`(c) alert latency, action -> edgeHub stand-in, default frequencies (highPriorityMessageFrequency PT7M), ${samples.length} alerts`);
    console.log(`    p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${samples[samples.length - 1]} ms (limit 5000 ms)`);
  } finally {
    await agent.stop('SIGTERM').catch(() => agent.stop('SIGKILL'));
    await hub.close();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const at = new Date(Date.parse('2026-11-23T00:00:00.000Z'));
  const pool = withContext(mixedWorkload(100_000, at));
  engineThroughput(pool, 1_000_000);
  const off = await pipelineRate(pool, 300_000, false);
  const on = await pipelineRate(pool, 300_000, true);
  console.log('(b) pipeline, 300,000 raw events (simulated clock, aggregation on), detections off vs on');
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  console.log(`    wall: off ${fmt(off.wall)} events/s, on ${fmt(on.wall)} events/s (on/off ${(on.wall / off.wall).toFixed(2)})`);
  console.log(`    per CPU second: off ${fmt(off.cpu)}, on ${fmt(on.cpu)} (on/off ${(on.cpu / off.cpu).toFixed(2)})`);
  await latency();
}
