import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import type { SecurityEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { BASELINE_CHECKS } from '../../../src/sources/host/baseline/checks';
import { readSshdConfig } from '../../../src/sources/host/baseline/sshd-config';
import { renderCheckTable, TABLE_BEGIN, TABLE_END } from '../../../src/sources/host/baseline/doc-table';
import { OS_BASELINE_EVENT, osBaselineSource, runBaseline } from '../../../src/sources/host/os-baseline';
import { HostTree } from '../../harness/host-tree';
import { referenceSchemaDir, repoRoot } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';
import type { SourceStatus } from '../../../src/sources/source';

const validator = createSchemaValidator(referenceSchemaDir());
const notRoot = process.getuid?.() !== 0 ? 'prepared trees need root-owned files: run the tests as root' : undefined;
if (notRoot) console.error(`SKIP: ${notRoot}`);

const SECRET_HASH = '$6$saltsalt$ThisIsAFakeButSecretLookingHashValue0123456789';

const HARDENED_SYSCTLS: Record<string, string> = {
  'kernel.randomize_va_space': '2',
  'net.ipv4.ip_forward': '0',
  'fs.suid_dumpable': '0',
  'net.ipv4.tcp_syncookies': '1',
  'net.ipv4.conf.all.accept_redirects': '0',
  'net.ipv4.conf.default.accept_redirects': '0',
  'net.ipv6.conf.all.accept_redirects': '0',
  'net.ipv6.conf.default.accept_redirects': '0',
  'net.ipv4.conf.all.send_redirects': '0',
  'net.ipv4.conf.all.accept_source_route': '0',
  'net.ipv4.conf.all.rp_filter': '1',
  'kernel.dmesg_restrict': '1',
  'kernel.kptr_restrict': '1',
  'kernel.yama.ptrace_scope': '1',
  'kernel.unprivileged_bpf_disabled': '1',
};

/** A host root that passes every check. */
function hardenedTree(): HostTree {
  const t = new HostTree('edgeguard-baseline-');
  t.mkdir('/proc/self');
  for (const [name, value] of Object.entries(HARDENED_SYSCTLS)) t.write(`/proc/sys/${name.split('.').join('/')}`, `${value}\n`);
  t.write('/etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\nPasswordAuthentication no\nMatch User backup\n  PasswordAuthentication yes\n  PermitRootLogin yes\n');
  t.write('/etc/ssh/sshd_config.d/10-edge.conf', 'X11Forwarding no\nMaxAuthTries 3\n');
  t.write('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nedge:x:1000:1000::/home/edge:/bin/sh\n', 0o644);
  t.write('/etc/shadow', `root:${SECRET_HASH}:19000:0:99999:7:::\nedge:!:19000:0:99999:7:::\n`, 0o640);
  t.write('/etc/group', 'root:x:0:\nedge:x:1000:\n', 0o644);
  t.write('/etc/gshadow', 'root:*::\n', 0o640);
  t.write('/etc/sudoers', 'root ALL=(ALL:ALL) ALL\n', 0o440);
  t.write('/etc/sudoers.d/edge', 'edge ALL=(ALL) NOPASSWD: /usr/bin/iotedge\n', 0o440);
  t.write('/etc/crontab', '', 0o600);
  t.write('/etc/docker/daemon.json', JSON.stringify({ hosts: ['unix:///var/run/docker.sock'], 'log-driver': 'local', 'log-opts': { 'max-size': '10m', 'max-file': '3' } }));
  t.write('/lib/systemd/system/docker.service', '[Service]\nExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n');
  t.write('/etc/aziot/config.toml', '[provisioning]\nsource = "manual"\n', 0o600);
  t.write('/etc/aziot/keyd/config.d/00-super.toml', '', 0o600);
  t.write('/var/lib/aziot/keyd/keys/device-id', 'key material', 0o600);
  t.write('/var/lib/aziot/certd/certs/edge-ca.pem', 'certificate', 0o644);
  t.write('/usr/bin/iotedge', '', 0o755);
  t.mkdir('/usr/sbin');
  t.mkdir('/tmp', 0o1777);
  return t;
}

function results(root: string, disabled: string[] = [], scanLimit?: number): Map<string, { result: string; detail: string }> {
  return new Map(runBaseline(root, { disabled, scanLimit }).map((r) => [r.check.id, r.outcome]));
}

/** One OSBaseline snapshot through the source (started and stopped around it): the event and the status after it. */
async function snapshotThroughSource(root: string, settings: Record<string, SettingValue> = {}): Promise<{ event: SecurityEvent | undefined; status: SourceStatus | undefined }> {
  const harness = new SourceHarness(osBaselineSource, settings, root);
  try {
    const source = await harness.start();
    await source.snapshot?.();
    return { event: harness.eventsNamed(OS_BASELINE_EVENT)[0], status: harness.lastStatus() };
  } finally {
    await harness.stop();
  }
}

test('check table: ≥ 20 checks, unique stable ids, all severities valid', () => {
  assert.ok(BASELINE_CHECKS.length >= 20);
  const ids = BASELINE_CHECKS.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const c of BASELINE_CHECKS) {
    assert.match(c.id, /^EG-OSB-\d{3}$/);
    assert.ok(['Critical', 'Important', 'Warning', 'Informational'].includes(c.severity));
    assert.ok(c.description.length > 10 && c.remediation.length > 5, c.id);
  }
});

test('docs/host-snapshots.md holds the generated check table', () => {
  const doc = readFileSync(path.join(repoRoot(), 'docs/host-snapshots.md'), 'utf8');
  const start = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  assert.ok(start >= 0 && end > start, 'table markers present');
  assert.equal(doc.slice(start, end + TABLE_END.length), renderCheckTable(), 'regenerate: node dist/src/sources/host/baseline/doc-table.js --write docs/host-snapshots.md');
});

test('hardened host tree: every check passes, the event is empty and schema-valid', { skip: notRoot }, async () => {
  const tree = hardenedTree();
  try {
    const outcomes = results(tree.root);
    const notPassed = [...outcomes].filter(([, o]) => o.result !== 'Pass').map(([id, o]) => `${id} ${o.result}: ${o.detail}`);
    assert.deepEqual(notPassed, []);
    assert.match(outcomes.get('EG-OSB-002')!.detail, /PasswordAuthentication no/, 'the Match block does not override the global value');
    const { event, status } = await snapshotThroughSource(tree.root);
    assert.ok(event);
    assert.equal(event.IsEmpty, true);
    assert.deepEqual(validator.validateEvent(event).errors, []);
    assert.deepEqual(status, { state: 'running' });
  } finally {
    tree.remove();
  }
});

test('weak host tree: the expected checks fail, with details and no secret', { skip: notRoot }, async () => {
  const t = hardenedTree();
  try {
    // sshd: the first value wins, and an Include before the main lines sets PermitRootLogin yes.
    t.write('/etc/ssh/sshd_config', 'Include sshd_config.d/*.conf\nPermitRootLogin no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication no\n');
    t.write('/etc/ssh/sshd_config.d/00-vendor.conf', 'PermitRootLogin yes\nPermitEmptyPasswords yes\nX11Forwarding yes\nPermitUserEnvironment yes\nHostbasedAuthentication yes\n');
    t.write('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nguest:x:1001:1001::/home/guest:/bin/sh\nold::1002:1002::/home/old:/bin/sh\n', 0o666);
    t.write('/etc/shadow', `root:${SECRET_HASH}:19000::::::\nguest::19000::::::\ntoor:${SECRET_HASH}:19000::::::\n`, 0o644);
    t.write('/etc/sudoers.d/bad', 'ALL ALL=(ALL) NOPASSWD: ALL\n', 0o664);
    t.write('/etc/docker/daemon.json', JSON.stringify({ hosts: ['unix:///var/run/docker.sock', 'tcp://0.0.0.0:2375'], 'log-driver': 'json-file' }));
    t.write('/etc/systemd/system/docker.service.d/override.conf', '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2376 --tls\n');
    t.write('/etc/aziot/config.toml', '[provisioning]\nsource = "manual"\n', 0o644);
    t.write('/var/lib/aziot/keyd/keys/device-id', 'key material', 0o604);
    for (const [name, value] of Object.entries({ 'kernel.randomize_va_space': '0', 'fs.suid_dumpable': '2', 'kernel.kptr_restrict': '0', 'net.ipv4.conf.all.rp_filter': '0' })) {
      t.write(`/proc/sys/${name.split('.').join('/')}`, `${value}\n`);
    }
    t.write('/usr/bin/evil', '#!/bin/sh\n', 0o777);
    mkdirSync(t.path('/etc/drop'));
    chmodSync(t.path('/etc/drop'), 0o777);
    chmodSync(t.path('/tmp'), 0o777);
    const outcomes = results(t.root);
    const failed = [...outcomes].filter(([, o]) => o.result === 'Fail').map(([id]) => id);
    assert.deepEqual(failed, [
      'EG-OSB-001', 'EG-OSB-002', 'EG-OSB-003', 'EG-OSB-005', 'EG-OSB-006', 'EG-OSB-007', 'EG-OSB-008', 'EG-OSB-009', 'EG-OSB-010', 'EG-OSB-011',
      'EG-OSB-014', 'EG-OSB-016', 'EG-OSB-017', 'EG-OSB-018', 'EG-OSB-019', 'EG-OSB-021', 'EG-OSB-027', 'EG-OSB-029', 'EG-OSB-032', 'EG-OSB-033',
    ]);
    const detail = (id: string): string => outcomes.get(id)!.detail;
    assert.match(detail('EG-OSB-001'), /PermitRootLogin yes/);
    assert.match(detail('EG-OSB-002'), /not set \(sshd default yes\)/);
    assert.equal(detail('EG-OSB-008'), 'accounts without a password: guest, old');
    assert.equal(detail('EG-OSB-009'), 'accounts with uid 0 besides root: toor');
    assert.match(detail('EG-OSB-014'), /\/etc\/sudoers\.d\/bad/);
    assert.match(detail('EG-OSB-016'), /tcp:\/\/0\.0\.0\.0:2375, tcp:\/\/0\.0\.0\.0:2376 with TLS but without client certificate verification/);
    assert.match(detail('EG-OSB-017'), /lacks log-opts\.max-size, log-opts\.max-file/);
    assert.match(detail('EG-OSB-018'), /\/etc\/aziot\/config\.toml, \/var\/lib\/aziot\/keyd\/keys\/device-id/);
    assert.match(detail('EG-OSB-032'), /\/etc\/drop\/.*\/usr\/bin\/evil|\/usr\/bin\/evil.*\/etc\/drop\//);

    const { event } = await snapshotThroughSource(t.root, { osBaselineDisabledChecks: ['EG-OSB-005'] });
    assert.ok(event);
    assert.deepEqual(validator.validateEvent(event).errors, []);
    assert.equal(event.Payload.length, failed.length - 1, 'only Fail/Err sent; the disabled check not at all');
    assert.ok(event.Payload.every((p) => p.Result === 'Fail' && p.Error === ''));
    const root = event.Payload.find((p) => p.CceId === 'EG-OSB-001')!;
    assert.equal(root.Severity, 'Critical');
    assert.match((root.ExtraDetails as Record<string, string>).Remediation!, /PermitRootLogin no/);
    assert.doesNotMatch(JSON.stringify(event), /ThisIsAFakeButSecret|key material/);
  } finally {
    t.remove();
  }
});

test('errors: unreadable or malformed inputs give Err results, the other checks still run', { skip: notRoot }, async () => {
  const t = hardenedTree();
  try {
    t.remove();
    mkdirSync(t.root);
    t.write('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n', 0o644);
    t.mkdir('/etc/shadow'); // a directory where a file should be: EISDIR
    t.write('/etc/docker/daemon.json', '{ "hosts": [ broken');
    t.mkdir('/proc/self');
    t.mkdir('/tmp', 0o1777);
    for (let i = 0; i < 50; i++) t.write(`/usr/bin/tool${i}`, '', 0o755);
    t.mkdir('/proc/1/ns');
    symlinkSync('net:[1]', t.path('/proc/1/ns/net'));
    const outcomes = results(t.root, [], 20);
    assert.deepEqual(outcomes.get('EG-OSB-020'), { result: 'Err', detail: 'EdgeGuard is not in the host network namespace (network: host): net.* parameters not visible' });
    assert.equal(outcomes.get('EG-OSB-008')!.result, 'Err');
    assert.match(outcomes.get('EG-OSB-008')!.detail, /EISDIR on \/etc\/shadow/);
    assert.equal(outcomes.get('EG-OSB-016')!.result, 'Err');
    assert.match(outcomes.get('EG-OSB-016')!.detail, /daemon\.json unparsable/);
    assert.equal(outcomes.get('EG-OSB-017')!.result, 'Err');
    assert.equal(outcomes.get('EG-OSB-019')!.result, 'Err', 'no /proc/sys in this tree');
    assert.match(outcomes.get('EG-OSB-032')!.detail, /scan stopped after 20 files/);
    assert.equal(outcomes.get('EG-OSB-009')!.result, 'Pass');
    assert.equal(outcomes.get('EG-OSB-033')!.result, 'Pass');

    const { event, status } = await snapshotThroughSource(t.root, { osBaselineScanLimit: 100 });
    assert.ok(event);
    assert.deepEqual(validator.validateEvent(event).errors, []);
    const err = event.Payload.find((p) => p.CceId === 'EG-OSB-008')!;
    assert.deepEqual([err.Result, err.Error], ['Err', 'EISDIR on /etc/shadow']);
    assert.equal(status?.state, 'degraded');
  } finally {
    t.remove();
  }
});

test('Docker TCP listener with tlsverify passes; -H=tcp:// in a unit without TLS fails', { skip: notRoot }, () => {
  const t = hardenedTree();
  try {
    t.write('/etc/docker/daemon.json', JSON.stringify({ hosts: ['tcp://0.0.0.0:2376'], tlsverify: true, 'log-driver': 'json-file', 'log-opts': { 'max-size': '10m', 'max-file': '3' } }));
    assert.equal(results(t.root).get('EG-OSB-016')!.result, 'Pass');
    t.write('/etc/docker/daemon.json', JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '10m', 'max-file': '3' } }));
    t.write('/etc/systemd/system/docker.service', '[Service]\nExecStart=/usr/bin/dockerd \\\n  -H=tcp://127.0.0.1:2375 -H fd://\n');
    const outcome = results(t.root).get('EG-OSB-016')!;
    assert.equal(outcome.result, 'Fail');
    assert.match(outcome.detail, /tcp:\/\/127\.0\.0\.1:2375 without TLS; sources: \/etc\/docker\/daemon\.json, \/etc\/systemd\/system\/docker\.service/);
  } finally {
    t.remove();
  }
});

test('sshd_config: relative and glob Include in order, first value wins, Match blocks end at end of file', () => {
  const files: Record<string, string> = {
    '/etc/ssh/sshd_config': '# comment\nInclude conf.d/*.conf missing.conf\nPasswordAuthentication=yes\nMaxAuthTries 2\n',
    '/etc/ssh/conf.d/10-a.conf': 'Match User x\nPasswordAuthentication no\n',
    '/etc/ssh/conf.d/20-b.conf': 'passwordauthentication  no\nMaxAuthTries 5\n',
    '/etc/ssh/conf.d/.hidden.conf': 'MaxAuthTries 9\n',
    '/etc/ssh/conf.d/30-c.txt': 'MaxAuthTries 8\n',
  };
  const config = readSshdConfig(
    (f) => files[f],
    (dir) => Object.keys(files).filter((f) => path.posix.dirname(f) === dir).map((f) => path.posix.basename(f)).sort(),
  );
  assert.equal(config.present, true);
  assert.equal(config.values.get('passwordauthentication'), 'no', 'from 20-b: the Match block of 10-a ended with its file');
  assert.equal(config.values.get('maxauthtries'), '5');
  assert.deepEqual(config.files, ['/etc/ssh/sshd_config', '/etc/ssh/conf.d/10-a.conf', '/etc/ssh/conf.d/20-b.conf']);
  assert.deepEqual(config.warnings, ['included file /etc/ssh/missing.conf not found']);
});

test('live machine: every check runs without crashing and the event is schema-valid', async () => {
  const runs = runBaseline('/');
  assert.equal(runs.length, BASELINE_CHECKS.length);
  for (const r of runs) assert.ok(['Pass', 'Fail', 'Err'].includes(r.outcome.result), r.check.id);
  const { event } = await snapshotThroughSource('/');
  assert.ok(event);
  assert.deepEqual(validator.validateEvent(event).errors, []);
  assert.equal(event.Payload.length, runs.filter((r) => r.outcome.result !== 'Pass').length);
});
