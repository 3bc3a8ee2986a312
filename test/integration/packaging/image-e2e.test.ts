import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { CONFIG_KEY } from '../../../src/config/settings';
import { STATUS_KEY } from '../../../src/agent/property-reporter';
import { dockerForTests } from '../../harness/docker';
import { EdgeHubStandIn, edgeHubStandInSkipReason } from '../../harness/edgehub-standin';
import { repoRoot } from '../../harness/paths';
import { createRequestFromTemplate } from '../../harness/template-container';

/**
 * The image as users deploy it: `npm run image` builds edgeguard:local-amd64 (no registry: local base
 * images, scripts/image.sh), then the container is created exactly as edgeAgent creates it from
 * deployment.template.json (the module's createOptions as the Docker create request, its env as Env),
 * on the tests' private engine, with the edgeHub stand-in on the host network.
 *
 * Adapted, because this is a test on a shared machine (each said where it is done):
 *  - the template binds the host's /var/run/docker.sock; here the tests' private engine socket is bound
 *    at the same place in the container (tests never touch the machine's daemon);
 *  - the named volume `edgeguard-state` gets this run's suffix (no clash with another run);
 *  - edgeAgent would give IOTEDGE_* variables and the workload socket; here the development pair
 *    EdgeHubConnectionString + EdgeModuleCACertificateFile (the stand-in's CA bound read-only) is given.
 * Nothing in the template asks for --privileged (which cannot start on this machine).
 */

const run = promisify(execFile);
const root = repoRoot();
const TAG = process.env.EDGEGUARD_E2E_IMAGE ?? 'edgeguard:local-amd64';
const runId = randomBytes(4).toString('hex');
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => undefined);
});

type Json = Record<string, unknown>;
interface WireEvent {
  Name: string;
  Payload: Json[];
}

function skipLoudly(t: { skip(reason: string): void }, reason: string): void {
  const message = `SKIPPED: image end-to-end: ${reason}`;
  console.error(message);
  t.skip(message);
}

function events(hub: EdgeHubStandIn): WireEvent[] {
  return hub.outputBodies().flatMap((body) => (body as { Events: WireEvent[] }).Events);
}

function markedSeen(hub: EdgeHubStandIn, marker: string): number {
  let n = 0;
  for (const e of events(hub)) if (e.Name === 'ProcessCreate') for (const p of e.Payload) if (String(p.CommandLine ?? '').includes(marker)) n++;
  return n;
}

/** Short-lived host processes whose executable carries `marker` (the agent sees them: pid host + proc connector). */
async function runMarked(dir: string, marker: string, count: number): Promise<void> {
  const exe = path.join(dir, marker);
  copyFileSync('/bin/sleep', exe);
  const exits: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(exe, ['0.2'], { stdio: 'ignore' });
    exits.push(new Promise((resolve) => child.on('exit', () => resolve())));
    await sleep(30);
  }
  await Promise.all(exits);
}

function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** The cgroup v1 or v2 directory of `pid` for `controller`. */
function cgroupFile(pid: number, controller: string, v1File: string, v2File: string): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  try {
    if (v1) return readFileSync(path.join('/sys/fs/cgroup', controller, v1.split(':')[2]!, v1File), 'utf8').trim();
    const v2 = lines.find((l) => l.startsWith('0::'));
    if (v2) return readFileSync(path.join('/sys/fs/cgroup', v2.slice(3), v2File), 'utf8').trim();
  } catch {
    return undefined;
  }
  return undefined;
}

async function containerLogs(container: Dockerode.Container): Promise<string> {
  const { stdout, stderr } = await run('docker', ['logs', container.id], { maxBuffer: 32 * 1024 * 1024 });
  return stdout + stderr;
}

test('image built without a registry, deployed from the template: messages, twin, logs, stop flush, journal resume, read-only root, privileges, limits', { timeout: 30 * 60_000 }, async (t) => {
  if (process.getuid?.() !== 0) return skipLoudly(t, 'needs root (image build with debootstrap, proc connector)');
  const standInSkip = edgeHubStandInSkipReason();
  if (standInSkip) return skipLoudly(t, standInSkip);
  const d = await dockerForTests();
  if ('skip' in d) return skipLoudly(t, d.skip);
  const docker = d.connection.docker;

  // 1. The image, with no registry (cached base images make a warm build take seconds).
  const started = Date.now();
  const build = await run('bash', [path.join(root, 'scripts', 'image.sh')], { cwd: root, timeout: 25 * 60_000, maxBuffer: 16 * 1024 * 1024 }).catch((e: { code?: number; stderr?: string; stdout?: string }) => e);
  if ('code' in build && build.code === 77) return skipLoudly(t, (build.stderr ?? '').trim().split('\n').pop() ?? 'image.sh skipped');
  assert.ok(!('code' in build) || build.code === 0, `npm run image failed:\n${build.stderr}`);
  const image = await docker.getImage(TAG).inspect();
  console.error(`image ${TAG}: ${(image.Size / 1e6).toFixed(1)} MB, built in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  // The runtime ships node and no package manager or compiler.
  const ls = await run('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'sh', TAG, '-c', 'node -v; for c in npm npx corepack yarn gcc g++ cc make python3; do command -v $c && echo "FOUND $c"; done; ls /usr/local/lib/node_modules 2>/dev/null; test -s /app/sbom.cdx.json && echo SBOM'], { timeout: 60_000 });
  assert.match(ls.stdout, /^v24\./m);
  assert.doesNotMatch(ls.stdout, /FOUND/);
  assert.match(ls.stdout, /^SBOM$/m);

  // 2. edgeHub stand-in with a twin of short frequencies; ProcessCreate one by one, Low priority every 60 s
  //    (so that only the stop's flush can bring the marked processes in quickly).
  const wrapped = (value: unknown) => ({ value });
  const hub = await EdgeHubStandIn.start({
    desired: {
      [CONFIG_KEY]: {
        highPriorityMessageFrequency: wrapped('PT2S'),
        lowPriorityMessageFrequency: wrapped('PT60S'),
        snapshotFrequency: wrapped('PT10M'),
        aggregationEnabledProcessCreate: wrapped(false),
        eventPriorityProcessTerminate: wrapped('Off'),
        eventPrioritySystemInformation: wrapped('High'),
      },
    },
  });
  cleanups.push(() => hub.close());
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-e2e-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));

  const { request, volume } = createRequestFromTemplate(TAG, runId, { EdgeHubConnectionString: hub.connectionString(), EdgeModuleCACertificateFile: '/run/edgehub-ca.pem' });
  (request.HostConfig!.Binds as string[]).push(`${hub.caFile}:/run/edgehub-ca.pem:ro`);
  const container = await docker.createContainer(request);
  cleanups.push(() => docker.getVolume(volume).remove({ force: true }));
  cleanups.push(() => container.remove({ force: true }));
  await container.start();
  const logsOnFailure = async (err: Error): Promise<never> => {
    throw new Error(`${err.message}\n--- docker logs ---\n${(await containerLogs(container).catch(() => '')).split('\n').slice(-40).join('\n')}`);
  };

  // 3. Twin read and reported; security messages arrive.
  await hub.waitForReported((r) => ((r[CONFIG_KEY] ?? {}) as Json & { highPriorityMessageFrequency?: { value?: unknown } }).highPriorityMessageFrequency?.value === 'PT2S' && r[STATUS_KEY] !== undefined, 60_000).catch(logsOnFailure);
  assert.ok(hub.twinGets >= 1, 'the twin was read');
  assert.equal((hub.reported[STATUS_KEY] as Json).mode, 'edgeHub');
  await hub.waitForOutput(() => events(hub).some((e) => e.Name === 'SystemInformation'), 60_000).catch(logsOnFailure);
  const first = hub.outputs[0]!;
  assert.equal(first.output, 'securityEvents');
  assert.equal(first.interfaceId, 'urn:azureiot:Security:SecurityAgent:1');

  // 4. docker logs: the documented format (time, level, [component], message).
  const logs = (await containerLogs(container)).split('\n').filter((l) => l.trim() !== '');
  assert.ok(logs.length > 0, 'the module logs');
  const format = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \[[^\]]+\] \S/;
  const off = logs.filter((l) => !format.test(l));
  assert.deepEqual(off, [], 'every docker logs line has the documented format');

  // 5. Read-only root, dropped privileges, limits of the template, as the kernel sees them.
  const info = await container.inspect();
  const pid = info.State.Pid;
  assert.ok(pid > 0);
  const status = procStatus(pid);
  assert.equal(status.NoNewPrivs, '1', 'no-new-privileges');
  const capEff = BigInt(`0x${status.CapEff}`);
  const CAP: Record<string, bigint> = { NET_ADMIN: 12n, SYS_MODULE: 16n, SYS_RAWIO: 17n, SYS_PTRACE: 19n, SYS_ADMIN: 21n, SYS_BOOT: 22n, SYS_NICE: 23n, SYS_RESOURCE: 24n, MAC_ADMIN: 33n, AUDIT_READ: 37n, PERFMON: 38n, BPF: 39n };
  const added = ((request.HostConfig!.CapAdd ?? []) as string[]).map((c: string) => c.replace(/^CAP_/, ''));
  for (const cap of added) {
    assert.ok(CAP[cap] !== undefined, `test knows the bit of ${cap}`);
    assert.ok(capEff & (1n << CAP[cap]!), `${cap} granted by the template's CapAdd`);
  }
  for (const cap of Object.keys(CAP).filter((c) => !added.includes(c))) assert.equal(capEff & (1n << CAP[cap]!), 0n, `${cap} not held`);
  assert.notEqual(status.Seccomp, '0', 'a seccomp filter applies');
  assert.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes', 'memory.max'), '268435456', 'memory limit 256 MB');
  assert.equal(cgroupFile(pid, 'pids', 'pids.max', 'pids.max'), '256', 'pids limit');
  const cpu = cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us', 'cpu.max');
  assert.ok(cpu === '50000' || cpu?.startsWith('50000 '), `half a CPU (${cpu})`);
  const touch = await run('docker', ['exec', container.id, 'sh', '-c', 'touch /app/x 2>&1; touch /var/lib/edgeguard/.probe && rm /var/lib/edgeguard/.probe && echo STATE-WRITABLE; touch /tmp/.probe && echo TMP-WRITABLE'], { timeout: 30_000 });
  assert.match(touch.stdout, /Read-only file system/);
  assert.match(touch.stdout, /STATE-WRITABLE/);
  assert.match(touch.stdout, /TMP-WRITABLE/);
  // docker diff: only the mount points the runtime made for the binds (and their parents) may differ.
  const mountPoints = info.Mounts.map((m) => m.Destination.replace(/^\/var\/run\//, '/run/'));
  const madeByRuntime = (p: string): boolean => mountPoints.some((m) => m === p || m.startsWith(`${p}/`));
  const diff = ((await container.changes()) ?? []) as Array<{ Path: string; Kind: number }>;
  assert.deepEqual(diff.filter((c) => !madeByRuntime(c.Path) && !c.Path.startsWith('/tmp/') && !c.Path.startsWith('/var/lib/edgeguard/')), [], 'nothing written outside the state volume and /tmp');
  const rss = procStatus(pid);
  console.error(`agent in the container (pid ${pid}): VmRSS ${rss.VmRSS} (RssAnon ${rss.RssAnon}, RssFile ${rss.RssFile}); cgroup memory usage ${cgroupFile(pid, 'memory', 'memory.usage_in_bytes', 'memory.current')} B`);

  // 6. docker stop flushes: with both priorities sent every 60 s (a live twin patch), events made just
  //    before the stop arrive with it. Detections are off for this step: the marked executables run from a
  //    temporary directory, which raises an alert that is sent at once, and a High message is topped up
  //    with the waiting Low events, so they would leave before the stop.
  await hub.patchDesired({ [CONFIG_KEY]: { highPriorityMessageFrequency: wrapped('PT60S'), detectionsEnabled: wrapped(false) } });
  await hub.waitForReported((r) => ((r[CONFIG_KEY] ?? {}) as Json & { highPriorityMessageFrequency?: { value?: unknown } }).highPriorityMessageFrequency?.value === 'PT60S', 30_000).catch(logsOnFailure);
  await sleep(500);
  const flushMarker = `eg-flush-${runId}`;
  await runMarked(tmp, flushMarker, 5);
  await sleep(1500); // captured and queued
  assert.equal(markedSeen(hub, flushMarker), 0, 'not sent yet: messages wait 60 s');
  await container.stop({ t: 20 });
  assert.equal((await container.inspect()).State.ExitCode, 0, 'exits 0 on SIGTERM');
  assert.ok(markedSeen(hub, flushMarker) >= 5, `the stop flushed the queued events (${markedSeen(hub, flushMarker)} of 5 seen)`);

  // 7. A restart resumes the journal from the named volume: events queued while edgeHub was away are
  //    persisted at the stop and sent after the next start.
  await hub.patchDesired({ [CONFIG_KEY]: { highPriorityMessageFrequency: wrapped('PT2S'), lowPriorityMessageFrequency: wrapped('PT2S') } });
  const patchesBefore = hub.reportedPatches.length;
  await container.start();
  // Sources start once the twin is read: wait for the new process's report, then for its sources.
  await hub.waitForReported((r, patches) => patches.length > patchesBefore && ((r[CONFIG_KEY] ?? {}) as Json & { lowPriorityMessageFrequency?: { value?: unknown } }).lowPriorityMessageFrequency?.value === 'PT2S', 60_000).catch(logsOnFailure);
  await sleep(3000);
  await hub.stopListener();
  const journalMarker = `eg-journal-${runId}`;
  await runMarked(tmp, journalMarker, 5);
  await sleep(1500);
  await container.stop({ t: 20 });
  assert.equal(markedSeen(hub, journalMarker), 0, 'edgeHub was away: nothing sent');
  await hub.startListener();
  await container.start();
  await hub.waitUntil(() => markedSeen(hub, journalMarker) >= 5, 90_000, 'journaled events sent after the restart').catch(logsOnFailure);
  console.error(`e2e: ${hub.outputs.length} messages, ${events(hub).length} events received; flush and journal resume verified`);
});
