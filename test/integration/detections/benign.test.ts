import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_KEY } from '../../../src/config/settings';
import { AgentProcess, builtAgentSkipReason } from '../../harness/agent-process';
import { dockerForTests, ensureTestImage, TEST_IMAGE } from '../../harness/docker';
import { EdgeHubStandIn, edgeHubStandInSkipReason } from '../../harness/edgehub-standin';
import { childEnvironment } from '../../harness/iot-environment';

/**
 * Everyday administration on this machine while the agent runs with default settings (every source,
 * default frequencies): listing, archiving, package and network tools against loopback, docker run
 * and ps. No alert of Medium or higher may come out, EdgeGuard's own activity included.
 */

const skip = edgeHubStandInSkipReason() ?? builtAgentSkipReason() ?? (process.getuid?.() === 0 ? undefined : 'the agent needs root for the proc connector');
if (skip) console.error(`SKIP: benign detection test: ${skip}`);

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
});

type Json = Record<string, unknown>;

/** Pids whose children are this test's doing: the test, the agent, every command it runs. */
const ours = new Set<number>([process.pid]);

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: 'ignore', timeout: 30_000 });
  if (r.pid) ours.add(r.pid);
}

/**
 * The machine is shared (other test runs start programs from /tmp, build code…): only alerts about this
 * test's processes (or their children), the agent's own children, and containers named h-detect-* count.
 */
function isOurs(alert: Json): boolean {
  const entity = (alert.Entity ?? {}) as Json;
  if (typeof entity.ContainerName === 'string' && entity.ContainerName.startsWith('h-detect-')) return true;
  if (typeof entity.ProcessId === 'number' && ours.has(entity.ProcessId)) return true;
  for (const evidence of (alert.Evidence ?? []) as Json[]) {
    const item = (evidence.Payload ?? {}) as Json;
    if (typeof item.ParentProcessId === 'number' && ours.has(item.ParentProcessId)) return true;
    if (typeof item.ProcessId === 'number' && ours.has(item.ProcessId)) return true;
  }
  return false;
}

test('everyday administration raises no alert of Medium or higher', { skip, timeout: 120_000 }, async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'h-detect-benign-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const stateDir = path.join(work, 'state');
  const hub = await EdgeHubStandIn.start({ desired: { [CONFIG_KEY]: {} } });
  cleanups.push(() => hub.close());
  const agent = new AgentProcess(childEnvironment({ ...hub.devEnvironment(), EDGEGUARD_STATE_DIR: stateDir, EDGEGUARD_HOST_ROOT: '/' }));
  cleanups.push(() => agent.stop('SIGKILL', 5000));
  if (agent.pid) ours.add(agent.pid);
  await hub.waitUntil(() => agent.lines.some((l) => l.includes('EdgeGuard running')), 30_000, 'agent running').catch((err: Error) => {
    throw new Error(`${err.message}\n${agent.tail()}`);
  });

  const server = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  const port = (server.address() as { port: number }).port;

  writeFileSync(path.join(work, 'notes.txt'), 'hello\n');
  run('ls', ['-la', '/etc', work]);
  run('tar', ['-czf', path.join(work, 'etc.tgz'), '-C', '/etc', 'hostname', 'os-release']);
  run('tar', ['-tzf', path.join(work, 'etc.tgz')]);
  run('sh', ['-c', `cat ${path.join(work, 'notes.txt')} | grep hello | wc -l`]);
  run('apt-cache', ['policy', 'bash']);
  run('ip', ['addr']);
  run('ip', ['route']);
  run('ss', ['-tln']);
  run('ps', ['aux']);
  run('df', ['-h']);
  run('uname', ['-a']);
  run('curl', ['-s', `http://127.0.0.1:${port}/health`]);
  run('curl', ['-s', '-o', path.join(work, 'page.html'), `http://127.0.0.1:${port}/`]);
  run('bash', ['-c', 'for i in 1 2 3; do date >/dev/null; done']);
  run('systemctl', ['--version']);
  // Many file operations by one parent, as log rotation and certificate checks do (EG-PROC-036 must stay quiet).
  run('bash', ['-c', `cd ${work} && for i in $(seq 1 12); do echo log $i > app.log.$i; gzip -9f app.log.$i; done; for f in /etc/hostname /etc/os-release /etc/hosts /etc/passwd /etc/group /etc/shells /etc/hostname /etc/os-release /etc/hosts /etc/passwd /etc/group /etc/shells; do openssl dgst -sha256 $f >/dev/null; done; tar -czf logs.tgz app.log.*.gz`]);
  const docker = await dockerForTests();
  if (!('skip' in docker) && (await ensureTestImage(docker.connection.docker)) === undefined) {
    const name = `h-detect-benign-${process.pid}`;
    cleanups.push(() => run('docker', ['rm', '-f', name]));
    run('docker', ['ps', '-a']);
    run('docker', ['run', '--rm', '--network', 'none', '--name', name, TEST_IMAGE, 'true']);
    run('docker', ['images']);
  } else console.error('SKIP (part): docker steps of the benign test: no dockerd');

  // Alerts go out within seconds; wait long enough for the slowest path (the first snapshots too).
  await sleep(6000);
  const answer = await hub.invokeMethod('alerts', {});
  assert.equal(answer.status, 200);
  const recent = (answer.payload as { alerts: Json[] }).alerts;
  const upstream = hub
    .outputBodies()
    .flatMap((b) => (b as { Events: Array<{ Name: string; Payload: Json[] }> }).Events)
    .filter((e) => e.Name === 'SecurityAlert')
    .flatMap((e) => e.Payload);
  const serious = [...recent, ...upstream].filter((a) => (a.Severity === 'High' || a.Severity === 'Medium') && isOurs(a));
  assert.deepEqual(
    serious.map((a) => `${String(a.RuleId)} ${JSON.stringify(a.Entity)}`),
    [],
    'no Medium/High alert from everyday administration',
  );
  // The attribution can see our processes: the ls run above is in the learned executables.
  assert.ok(ours.size > 10);
  // The engine did run: the learned baseline is filling (first-seen rules observe during learning).
  const baseline = (answer.payload as { baseline: { learning: boolean; entries: Record<string, number> } }).baseline;
  assert.equal(baseline.learning, true);
  assert.ok((baseline.entries.executables ?? 0) > 5, JSON.stringify(baseline));
});
