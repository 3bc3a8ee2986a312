import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { SecurityEvent } from '../src/core/event';
import { resolveDockerHost } from '../src/sources/docker/client';
import { containerRuntimeSource, type ContainerRuntimeSource } from '../src/sources/docker/index';
import { dockerForTests, ensureTestImage, TestContainers } from '../test/harness/docker';
import { SourceHarness } from '../test/harness/source-harness';

/**
 * ContainerRuntime: latency from a Docker event (the engine's own timestamp) to the moment the
 * source hands the ContainerActivity event to the pipeline, over 1,000 events (500 pause/unpause
 * pairs on one container, driven from a child process so the driver does not share the watcher's
 * event loop); and the CPU cost of watching an idle daemon, beside an idle baseline in the same run.
 */

const PAIRS = 500;
const IDLE_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowMs = (): number => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A child process pausing and unpausing the container over the Engine API, one request after the other. */
function drive(socketPath: string, id: string, apiVersion: string): Promise<void> {
  const script = `
    const http = require('http');
    const call = (action) => new Promise((ok, fail) => {
      const req = http.request({ socketPath: ${JSON.stringify(socketPath)}, method: 'POST', path: '/v${apiVersion}/containers/${id}/' + action }, (res) => {
        res.resume(); res.on('end', () => res.statusCode < 300 ? ok() : fail(new Error(action + ' ' + res.statusCode)));
      });
      req.on('error', fail); req.end();
    });
    // The engine now and then answers 500 to a pause/unpause right after the previous one: one retry.
    const retried = (action) => call(action).catch((e) => { console.error('retrying after: ' + e.message); return new Promise((r) => setTimeout(r, 100)).then(() => call(action)); });
    (async () => { for (let i = 0; i < ${PAIRS}; i++) { await retried('pause'); await retried('unpause'); } })().catch((e) => { console.error(e.message); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`driver exited ${code}`))));
  });
}

async function idleCpuMs(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await sleep(ms);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

export async function run(): Promise<void> {
  console.log('## docker-events: ContainerRuntime event latency and idle cost');
  const d = await dockerForTests();
  if ('skip' in d) {
    console.log(`docker-events: ${d.skip}`);
    return;
  }
  const { connection } = d;
  const imageSkip = await ensureTestImage(connection.docker);
  if (imageSkip) {
    console.log(`docker-events: ${imageSkip}`);
    return;
  }
  const host = resolveDockerHost('');
  if (!host.startsWith('unix://')) {
    console.log(`docker-events: SKIPPED: the driver needs a unix socket, DOCKER_HOST is ${host}`);
    return;
  }
  const containers = new TestContainers(connection.docker);
  const harness = new SourceHarness(containerRuntimeSource);
  try {
    const container = await containers.create('bench');
    await container.start();

    // Latency: the engine's EventTime (ms) to the emit call.
    const latencies: number[] = [];
    const ctx = harness.context();
    let running = false;
    const source = (await containerRuntimeSource.start({
      ...ctx,
      setStatus: (s) => {
        running = s.state === 'running';
      },
      emit: (event: SecurityEvent) => {
        const at = nowMs();
        const item = event.Payload[0] as { Action?: string; ContainerId?: string; EventTime?: string } | undefined;
        if (event.Name === 'ContainerActivity' && item?.ContainerId === container.id && (item.Action === 'pause' || item.Action === 'unpause')) {
          latencies.push(at - Date.parse(String(item.EventTime)));
        }
      },
    })) as ContainerRuntimeSource;
    for (let i = 0; i < 500 && !running; i++) await sleep(10);

    const cpuBefore = process.cpuUsage();
    const t0 = nowMs();
    await drive(host.slice('unix://'.length), container.id, connection.apiVersion);
    for (let i = 0; i < 500 && latencies.length < 2 * PAIRS; i++) await sleep(10);
    const burstMs = nowMs() - t0;
    const burstCpu = process.cpuUsage(cpuBefore);
    await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);

    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(`events seen: ${latencies.length}/${2 * PAIRS} pause/unpause in ${(burstMs / 1000).toFixed(1)} s (${((2 * PAIRS * 1000) / burstMs).toFixed(0)} events/s from the engine)`);
    if (sorted.length > 0) {
      console.log(
        `latency engine event -> emit (EventTime has ms resolution: figures up to 1 ms high): p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms (target p99 < 50 ms)`,
      );
    }
    console.log(`watcher CPU during the burst: ${(((burstCpu.user + burstCpu.system) / Math.max(1, latencies.length))).toFixed(0)} µs per event (whole process)`);

    // Idle cost: the daemon is quiet now; watch it, then measure the same process with no source.
    await sleep(500);
    const watching = await idleCpuMs(IDLE_MS);
    const stats = source.stats();
    await source.stop();
    await sleep(200);
    const baseline = await idleCpuMs(IDLE_MS);
    console.log(
      `idle CPU over ${IDLE_MS / 1000} s: watching ${watching.toFixed(1)} ms (${((100 * watching) / IDLE_MS).toFixed(3)}% of a core), idle node baseline ${baseline.toFixed(1)} ms, ratio ${(watching / Math.max(baseline, 0.001)).toFixed(2)}x`,
    );
    console.log(`watcher stats: ${JSON.stringify(stats)}`);
  } finally {
    await containers.cleanup();
    await harness.stop();
  }
}

if (require.main === module) {
  run().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
