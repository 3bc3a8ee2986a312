import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { selectMode } from '../../../src/main';
import { lockStateDir, processToken, resolveStateDir, StateDirInUseError } from '../../../src/agent/state';
import { StateGuard } from '../../../src/agent/state-guard';
import type { Logger } from '../../../src/core/logger';

test('AgentId: created once, stable, regenerated (with a warning) when the file is damaged', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // What the agent does at start: StateGuard.open reads the id, else generates and stores one.
  const agentId = (log?: Logger): string => {
    const guard = StateGuard.open(dir, log);
    guard.close();
    return guard.agentId;
  };
  const id = agentId();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(agentId(), id);
  assert.equal(readFileSync(path.join(dir, 'agent-id'), 'utf8').trim(), id);
  writeFileSync(path.join(dir, 'agent-id'), '\u0000garbage');
  const warnings: string[] = [];
  const log: Logger = { warn: (m) => void warnings.push(m), error() {}, info() {}, debug() {}, child: () => log };
  const fresh = agentId(log);
  assert.notEqual(fresh, id);
  assert.deepEqual(warnings, ['agent id file is damaged: a new AgentId is generated']);
  assert.equal(agentId(), fresh);
});

test('state directory: EDGEGUARD_STATE_DIR created when missing; an unwritable one is a clear error', (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-state-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const wanted = path.join(base, 'a', 'b');
  assert.equal(resolveStateDir({ EDGEGUARD_STATE_DIR: wanted }), wanted);
  const file = path.join(base, 'not-a-dir');
  writeFileSync(file, 'x');
  chmodSync(file, 0o400);
  assert.throws(() => resolveStateDir({ EDGEGUARD_STATE_DIR: path.join(file, 'sub') }), /EDGEGUARD_STATE_DIR/);
});

test('mode: IoT Edge variables select edgeHub, otherwise standalone', () => {
  assert.equal(selectMode({}), 'standalone');
  assert.equal(selectMode({ IOTEDGE_WORKLOADURI: 'unix:///var/run/iotedge/workload.sock' }), 'edgeHub');
  assert.equal(selectMode({ EdgeHubConnectionString: 'HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=a2V5' }), 'edgeHub');
  assert.equal(selectMode({ IotHubConnectionString: 'HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=a2V5' }), 'edgeHub');
  assert.equal(selectMode({ IOTEDGE_DEVICEID: 'd' }), 'standalone');
});

test('state directory lock: held by a live agent → clear error; a dead or own pid is taken over; release removes it', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-state-'));
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  t.after(() => {
    other.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const lockFile = path.join(dir, 'agent.lock');
  const holderLock = `${other.pid} ${processToken(other.pid!)}\n`;
  writeFileSync(lockFile, holderLock);
  assert.throws(() => lockStateDir(dir), (e: Error) => e instanceof StateDirInUseError && e.message.includes(`pid ${other.pid}`) && e.message.includes('EDGEGUARD_STATE_DIR'));
  assert.equal(readFileSync(lockFile, 'utf8'), holderLock, 'a live holder keeps its lock');

  // Issue 11 item 10: the pid alone proves nothing (pids are reused). A live process whose start token
  // differs, or an old pid-only lock whose pid now runs some other Node program, is taken over.
  writeFileSync(lockFile, `${other.pid} 12345@not-this-boot\n`);
  lockStateDir(dir)();
  writeFileSync(lockFile, `${other.pid}\n`);
  lockStateDir(dir)();
  writeFileSync(lockFile, holderLock);

  other.kill('SIGKILL');
  await new Promise((resolve) => other.once('exit', resolve));
  const release = lockStateDir(dir);
  assert.equal(readFileSync(lockFile, 'utf8').trim(), `${process.pid} ${processToken(process.pid)}`, 'a dead holder is replaced; the lock holds pid and start token');
  release();
  assert.equal(existsSync(lockFile), false);

  writeFileSync(lockFile, `${process.pid}\n`); // left by an earlier container whose agent had this same pid
  lockStateDir(dir)();
  writeFileSync(lockFile, 'garbage');
  lockStateDir(dir)();
  assert.equal(existsSync(lockFile), false);
});
