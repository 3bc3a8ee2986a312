import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { systemInformationSource } from '../../../src/sources/host/system-information';
import { dockerForTests } from '../../harness/docker';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

const validator = createSchemaValidator(referenceSchemaDir());

test('SystemInformation on this machine matches what the OS itself says', async (t) => {
  const harness = new SourceHarness(systemInformationSource, {}, '/');
  t.after(() => harness.stop());
  const source = await harness.start();
  await source.snapshot!();
  const [event] = harness.eventsNamed('SystemInformation');
  assert.ok(event);
  const result = validator.validateEvent(event);
  assert.ok(result.valid, result.errors.join('\n'));
  const item = event.Payload[0]!;
  const release = readFileSync('/etc/os-release', 'utf8');
  assert.ok(release.includes(String(item.OSName)), `OSName ${String(item.OSName)} is in /etc/os-release`);
  assert.equal(item.HostName, os.hostname());
  assert.equal(item.OsArchitecture, execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
  assert.equal(item.ExtraDetails!.KernelRelease, execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
  const memTotal = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
  assert.equal(item.TotalPhysicalMemoryInKB, memTotal);
  assert.ok(Number(item.ExtraDetails!.UptimeSeconds) > 0);
});

test('SystemInformation reports the Docker engine version when one answers', async (t) => {
  const docker = await dockerForTests();
  if ('skip' in docker) {
    t.skip(docker.skip);
    return;
  }
  const harness = new SourceHarness(systemInformationSource, {}, '/');
  t.after(() => harness.stop());
  const source = await harness.start();
  await source.snapshot!();
  const [event] = harness.eventsNamed('SystemInformation');
  assert.equal(event!.Payload[0]!.ExtraDetails!.ContainerRuntime, `docker ${docker.connection.daemonVersion} (API ${docker.connection.daemonApiVersion})`);
});
