import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { dockerForTests, ensureTestImage, TestContainers } from '../test/harness/docker';
import { EdgeHubStandIn, edgeHubStandInSkipReason } from '../test/harness/edgehub-standin';
import { childEnvironment } from '../test/harness/iot-environment';
import { privateNodeCopy } from '../test/harness/private-node';
import { createRequestFromTemplate } from '../test/harness/template-container';
import { FIRST_SETTLE_MS, memorySample, type MemorySample } from '../src/agent/memory-settle';

/**
 * Footprint of the agent idle and under load (issue 12: <= 64 MB VmRSS, < 1 % of a core idle), in the
 * same run beside a bare `node` and a `node` that only loads the design card's packages:
 *  - VmRSS with its RssAnon / RssFile split (from /proc/<pid>/status), CPU % of one core over a window;
 *  - the agent as `npm start` runs it in edgeHub mode (the stand-in, production frequencies);
 *  - the agent in the container deployed from deployment.template.json (edgeguard:local-amd64, when
 *    `npm run image` built it on DOCKER_HOST), with the container's cgroup memory figure beside it;
 *  - the agent with its memory trim off (EDGEGUARD_MEMORY_TRIM=off; src/agent/memory-settle.ts), both
 *    from private copies of node, with their page faults: the trim's share;
 *  - growth under load, one minute each: 10,000 execs/min, 1,000 connections/min, 100 container
 *    events/min, then edgeHub away until the 2.5 MB cache is full.
 * EDGEGUARD_FOOTPRINT_QUICK=1 shortens warm-up and windows (for trying a change; not for the README).
 */

const QUICK = process.env.EDGEGUARD_FOOTPRINT_QUICK === '1';
/** Past the agent's first memory settle (FIRST_SETTLE_MS after it is up) and the working set's return. */
const WARMUP_MS = FIRST_SETTLE_MS + (QUICK ? 30_000 : 60_000);
const WINDOW_MS = QUICK ? 8_000 : 20_000;
const LOAD_MS = QUICK ? 20_000 : 60_000;
/** Idle CPU is taken over this many windows and the median printed (the machine is shared: single windows are noisy). */
const WINDOWS = Number(process.env.EDGEGUARD_FOOTPRINT_WINDOWS ?? 3);
/** EDGEGUARD_FOOTPRINT_IDLE_ONLY=1 stops after the idle figures (for comparing flag sets). */
const IDLE_ONLY = process.env.EDGEGUARD_FOOTPRINT_IDLE_ONLY === '1';
const TICKS = 100; // USER_HZ
const IMAGE = process.env.EDGEGUARD_E2E_IMAGE ?? 'edgeguard:local-amd64';
const DEPENDENCIES = ['azure-iot-device', 'azure-iot-device-mqtt', 'dockerode', 'js-yaml', 'ajv', 'winston'];
const IDLE = 'setInterval(() => {}, 1 << 30);';

type Sample = MemorySample;

function memory(pid: number): Sample {
  return memorySample(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (all threads)
}

/** Minor and major page faults so far (fields 10 and 12 of /proc/<pid>/stat). */
function faults(pid: number): { minor: number; major: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { minor: Number(fields[7]), major: Number(fields[9]) };
}

function cgroupMemory(pid: number): number | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'));
  try {
    if (v1) return Number(readFileSync(path.join('/sys/fs/cgroup/memory', v1.split(':')[2]!, 'memory.usage_in_bytes'), 'utf8')) / 1048576;
    const v2 = lines.find((l) => l.startsWith('0::'));
    if (v2) return Number(readFileSync(path.join('/sys/fs/cgroup', v2.slice(3), 'memory.current'), 'utf8')) / 1048576;
  } catch {
    return undefined;
  }
  return undefined;
}

/** CPU % of one core over `ms` for each pid, and memory at the end. */
async function window(pids: number[], ms: number): Promise<Array<Sample & { cpu: number }>> {
  const before = pids.map(cpuTicks);
  const started = Date.now();
  await sleep(ms);
  const seconds = (Date.now() - started) / 1000;
  return pids.map((pid, i) => ({ ...memory(pid), cpu: ((cpuTicks(pid) - before[i]!) / TICKS / seconds) * 100 }));
}

/** The median of `WINDOWS` windows of `ms` each: CPU median per pid, memory from the last window. */
async function medianWindow(pids: number[], ms: number): Promise<Array<Sample & { cpu: number; cpus: number[] }>> {
  const runs: Array<Array<Sample & { cpu: number }>> = [];
  for (let i = 0; i < Math.max(1, WINDOWS); i++) runs.push(await window(pids, ms));
  const last = runs[runs.length - 1]!;
  return pids.map((_, i) => {
    const cpus = runs.map((r) => r[i]!.cpu).sort((a, b) => a - b);
    return { ...last[i]!, cpu: cpus[Math.floor(cpus.length / 2)]!, cpus };
  });
}

/** The V8 flags of the image's ENTRYPOINT (scripts/run.sh uses the same; a packaging test checks it). */
function imageNodeFlags(root: string): string[] {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(path.join(root, 'Dockerfile.amd64'), 'utf8'));
  const argv = entry ? (JSON.parse(entry[1]!) as string[]) : [];
  return argv.slice(1, -1);
}

const mb = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(1));
function line(name: string, s: Sample & { cpu?: number }, extra = ''): void {
  console.log(`  ${name.padEnd(34)} VmRSS ${mb(s.vmRss).padStart(6)} MB  (RssAnon ${mb(s.rssAnon).padStart(5)}, RssFile ${mb(s.rssFile).padStart(5)})${s.cpu === undefined ? '' : `  CPU ${s.cpu.toFixed(2)} % of a core`}${extra}`);
}

/** The last 4 KB of each child's stderr, printed when it exits before it is measured. */
const stderrTails = new Map<number, string>();
function node(args: string[], env: NodeJS.ProcessEnv = process.env, bin = process.execPath): ChildProcess {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => stderrTails.set(child.pid!, ((stderrTails.get(child.pid!) ?? '') + d.toString()).slice(-4096)));
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL') console.log(`  !!! ${args.join(' ')} exited (${code ?? signal}):\n${stderrTails.get(child.pid!) ?? ''}`);
  });
  return child;
}

/** Load generators, each `perMinute` operations spread over the minute. */
function every(perMinute: number, action: () => void): () => void {
  const perTick = perMinute / 600; // 100 ms ticks
  let due = 0;
  const timer = setInterval(() => {
    due += perTick;
    for (; due >= 1; due--) action();
  }, 100);
  return () => clearInterval(timer);
}

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('footprint: SKIPPED: the agent needs root (proc connector, host files)');
    return;
  }
  const standInSkip = edgeHubStandInSkipReason();
  if (standInSkip) {
    console.log(`footprint: SKIPPED: ${standInSkip}`);
    return;
  }
  const root = path.resolve(__dirname, '..', '..');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-footprint-'));
  const children: ChildProcess[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    // One edgeHub stand-in per agent: it admits one module identity, and agents sharing one take the
    // MQTT session from each other in a loop (a reconnect every second or so, which their figures would include).
    const hubs: EdgeHubStandIn[] = [];
    const newHub = async (): Promise<EdgeHubStandIn> => {
      const h = await EdgeHubStandIn.start();
      hubs.push(h);
      cleanups.push(() => h.close());
      return h;
    };
    const docker = await dockerForTests();
    const engine: Dockerode | undefined = 'skip' in docker ? undefined : docker.connection.docker;

    const bare = node(['-e', IDLE]);
    const deps = node(['-e', `${DEPENDENCIES.map((d) => `require(${JSON.stringify(d)});`).join(' ')} ${IDLE}`], { ...process.env, NODE_PATH: path.join(root, 'node_modules') });
    // The agent as npm start and the image run it (their V8 flags), and without each flag, for each one's share.
    const flags = imageNodeFlags(root);
    const agentEnv = async (name: string, trim = 'on'): Promise<NodeJS.ProcessEnv> =>
      childEnvironment({ ...(await newHub()).devEnvironment(), EDGEGUARD_STATE_DIR: path.join(tmp, name), EDGEGUARD_HOST_ROOT: '/', EDGEGUARD_MEMORY_TRIM: trim });
    const main = path.join(root, 'dist', 'src', 'main.js');
    // The memory trim pages out only what no other process maps: the agent, and its twin without the
    // trim, run from private copies of node, as in the container (its own node binary) on a device.
    const copy = (): string | undefined => {
      try {
        const c = privateNodeCopy();
        cleanups.push(() => rmSync(c.dir, { recursive: true, force: true }));
        return c.bin;
      } catch (error) {
        console.log(`  (${error instanceof Error ? error.message : String(error)}: the agents share the node binary, the trim's share is understated)`);
        return undefined;
      }
    };
    const agent = node([...flags, main], await agentEnv('agent'), copy());
    const untrimmed = node([...flags, main], await agentEnv('agent-untrimmed', 'off'), copy());
    // Each flag set beside the image's: none, semi-space only, the interpreter-only set with Sparkplug
    // (the baseline compiler, cheap code) kept, or with Sparkplug and Maglev kept, and without
    // --optimize-for-size; without the memory trim (they share the node binary), so compare them with
    // the untrimmed agent.
    const flagSets = [
      [] as string[],
      flags.slice(0, 1),
      flags.filter((f) => f !== '--no-sparkplug'),
      flags.filter((f) => f !== '--no-sparkplug' && f !== '--no-maglev'),
      flags.filter((f) => f !== '--optimize-for-size'),
    ];
    const variantSpecs = flagSets.filter((f, i) => flagSets.findIndex((g) => g.join(' ') === f.join(' ')) === i && f.join(' ') !== flags.join(' ')).map((f, i) => ({ flags: f, env: agentEnv(`agent-variant${i}`, 'off') }));
    const variants = await Promise.all(variantSpecs.map(async (v) => ({ flags: v.flags, child: node([...v.flags, main], await v.env) })));
    children.push(bare, deps, agent, untrimmed, ...variants.map((v) => v.child));

    let containerPid: number | undefined;
    if (engine && (await engine.getImage(IMAGE).inspect().catch(() => undefined))) {
      const runId = randomBytes(4).toString('hex');
      const hub = await newHub();
      const { request, volume } = createRequestFromTemplate(IMAGE, runId, { EdgeHubConnectionString: hub.connectionString(), EdgeModuleCACertificateFile: '/run/edgehub-ca.pem' });
      (request.HostConfig!.Binds as string[]).push(`${hub.caFile}:/run/edgehub-ca.pem:ro`);
      const container = await engine.createContainer(request);
      cleanups.push(() => engine.getVolume(volume).remove({ force: true }));
      cleanups.push(() => container.remove({ force: true }));
      await container.start();
      containerPid = (await container.inspect()).State.Pid;
    } else {
      console.log(`  (no ${IMAGE} on ${process.env.DOCKER_HOST}: container figures SKIPPED; npm run image builds it)`);
    }

    console.log(`idle: ${WARMUP_MS / 1000} s warm-up, then the median CPU of ${WINDOWS} windows of ${WINDOW_MS / 1000} s; Node ${process.version}; agent in edgeHub mode at production frequencies (the machine is shared: CPU figures are noisy)`);
    await sleep(WARMUP_MS);
    const pids = [bare.pid!, deps.pid!, agent.pid!, ...(containerPid ? [containerPid] : []), untrimmed.pid!, ...variants.map((v) => v.child.pid!)];
    const faultsBefore = [agent.pid!, untrimmed.pid!].map(faults);
    const idle = await medianWindow(pids, WINDOW_MS);
    line('bare node', idle[0]!);
    line('node + the six packages loaded', idle[1]!);
    line(`agent, npm start (edgeHub mode)`, idle[2]!, `  flags: ${flags.join(' ')}`);
    if (containerPid) line('agent in the template container', idle[3]!, `  cgroup ${mb(cgroupMemory(containerPid))} MB`);
    const offset = containerPid ? 4 : 3;
    line('agent, EDGEGUARD_MEMORY_TRIM=off', idle[offset]!);
    const faultsAfter = [agent.pid!, untrimmed.pid!].map(faults);
    console.log(`  (page faults over the idle windows, minor/major: agent ${faultsAfter[0]!.minor - faultsBefore[0]!.minor}/${faultsAfter[0]!.major - faultsBefore[0]!.major}, trim off ${faultsAfter[1]!.minor - faultsBefore[1]!.minor}/${faultsAfter[1]!.major - faultsBefore[1]!.major})`);
    variants.forEach((v, i) => line(`agent with ${v.flags.length ? v.flags.join(' ') : 'no V8 flags'}, trim off`, idle[offset + 1 + i]!));
    console.log(`  (CPU of each window, %: ${idle.map((s) => s.cpus.map((c) => c.toFixed(2)).join('/')).join('  ')})`);
    for (const v of variants) v.child.kill('SIGKILL');
    if (IDLE_ONLY) return;

    // Growth under load, measured on the npm-start agent, its twin without the memory trim (the pages a
    // load needs come back) and the container's agent, which sees the same host.
    const measured = [agent.pid!, untrimmed.pid!, ...(containerPid ? [containerPid] : [])];
    const report = (what: string, samples: Array<Sample & { cpu: number }>): void => {
      line(`agent after ${what}`, samples[0]!, `  (+${(samples[0]!.vmRss - idle[2]!.vmRss).toFixed(1)} MB)`);
      line('  with the memory trim off', samples[1]!, `  (+${(samples[1]!.vmRss - idle[offset]!.vmRss).toFixed(1)} MB)`);
      if (containerPid) line('  in the container', samples[2]!, `  (+${(samples[2]!.vmRss - idle[3]!.vmRss).toFixed(1)} MB)  cgroup ${mb(cgroupMemory(containerPid))} MB`);
    };
    console.log(`under load, ${LOAD_MS / 1000} s each:`);
    let stop = every(10_000, () => spawn('/bin/true', { stdio: 'ignore' }));
    report('10,000 execs/min', await window(measured, LOAD_MS));
    stop();

    const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    stop = every(1_000, () => net.connect(port, '127.0.0.1').on('error', () => undefined).on('connect', function (this: net.Socket) { this.end(); }));
    report('1,000 connections/min', await window(measured, LOAD_MS));
    stop();
    server.close();

    if (engine && !(await ensureTestImage(engine))) {
      const containers = new TestContainers(engine);
      cleanups.push(() => containers.cleanup());
      // create, start, die (sleep 0), destroy: 4 events per container, 25 containers/min.
      let n = 0;
      stop = every(25, () => {
        void (async () => {
          const c = await containers.create(`fp${n++}`, { Cmd: ['true'] });
          await c.start();
          await c.wait();
          await c.remove();
        })().catch(() => undefined);
      });
      report('100 container events/min', await window(measured, LOAD_MS));
      stop();
    }

    // edgeHub away: events pile up in the queues until the 2.5 MB cache is full (execs with long command lines).
    for (const h of hubs) await h.stopListener();
    const longArg = 'x'.repeat(2000);
    stop = every(20_000, () => spawn('/bin/true', [longArg, String(Math.random())], { stdio: 'ignore' }));
    report('edgeHub away, cache filled (2.5 MB)', await window(measured, LOAD_MS));
    stop();
    for (const h of hubs) await h.startListener();
  } finally {
    for (const c of children) c.kill('SIGKILL');
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}
