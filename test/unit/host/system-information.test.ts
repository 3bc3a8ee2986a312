import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { collectSystemFacts, RUNTIME_UNAVAILABLE, systemInformationSource } from '../../../src/sources/host/system-information';
import { bootDeviceFromCmdline, parseMeminfo, parseOsRelease, parseUptime, rootDeviceFromMountinfo } from '../../../src/sources/host/system-readers';
import { SourceHarness } from '../../harness/source-harness';
import { referenceSchemaDir } from '../../harness/paths';

const validator = createSchemaValidator(referenceSchemaDir());

/** A host root like an ARM gateway's: os-release, hostname, and a proc tree. */
function hostTree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-sysinfo-'));
  mkdirSync(path.join(root, 'proc', 'self'), { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

const GATEWAY: Record<string, string> = {
  '/etc/os-release': 'PRETTY_NAME="Raspbian GNU/Linux 11 (bullseye)"\nNAME="Raspbian GNU/Linux"\nVERSION_ID="11"\nVERSION="11 (bullseye)"\nID=raspbian\nID_LIKE=debian\n',
  '/etc/hostname': 'gateway-07\n',
  '/proc/meminfo': 'MemTotal:        3884400 kB\nMemFree:          102400 kB\nMemAvailable:    2048000 kB\nSwapTotal:        102396 kB\nSwapFree:          51200 kB\n',
  '/proc/cmdline': 'coherent_pool=1M console=ttyS0,115200 root=PARTUUID=6c586e13-02 rootfstype=ext4 rootwait\n',
  '/proc/uptime': '12345.67 40000.00\n',
  '/proc/sys/kernel/osrelease': '5.15.84-v7l+\n',
  '/proc/sys/kernel/version': '#1613 SMP Thu Jan 5 12:01:26 GMT 2023\n',
  '/proc/device-tree/model': 'Raspberry Pi 4 Model B Rev 1.4\u0000',
};

test('facts from a prepared host root: OS, vendor, host name, memory, boot device, kernel, uptime', (t) => {
  const root = hostTree(GATEWAY);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { item, missing } = collectSystemFacts(root, 'docker 20.10.24 (API 1.41)');
  assert.deepEqual(missing, []);
  assert.equal(item.OSName, 'Raspbian GNU/Linux');
  assert.equal(item.OSVersion, '11 (bullseye)');
  assert.equal(item.OSVendor, 'Raspberry Pi Foundation');
  assert.equal(item.HostName, 'gateway-07');
  assert.equal(item.BootDevice, 'PARTUUID=6c586e13-02');
  assert.equal(item.TotalPhysicalMemoryInKB, 3_884_400);
  assert.equal(item.FreePhysicalMemoryInKB, 2_048_000);
  assert.equal(item.TotalVirtualMemoryInKB, 102_396);
  assert.equal(item.FreeVirtualMemoryInKB, 51_200);
  assert.equal(item.OsArchitecture, os.machine());
  const extra = item.ExtraDetails!;
  assert.equal(extra.PrettyName, 'Raspbian GNU/Linux 11 (bullseye)');
  assert.equal(extra.KernelRelease, '5.15.84-v7l+');
  assert.equal(extra.KernelVersion, '#1613 SMP Thu Jan 5 12:01:26 GMT 2023');
  assert.equal(extra.UptimeSeconds, '12345');
  assert.equal(extra.Model, 'Raspberry Pi 4 Model B Rev 1.4');
  assert.equal(extra.ContainerRuntime, 'docker 20.10.24 (API 1.41)');
  const result = validator.validateEvent(createEvent('SystemInformation', 'Periodic', [item]));
  assert.ok(result.valid, result.errors.join('\n'));
});

test('garbage and missing files: the rest of the data, a list of what is missing, still schema-valid', (t) => {
  const root = hostTree({
    '/etc/os-release': '\u0000\u0001garbage without equals\n=novalue\nname=lowercase-ignored\n',
    '/usr/lib/os-release': 'NAME=Fallback OS\n',
    '/proc/meminfo': 'MemTotal: lots kB\nSwapTotal: -5 kB\n' + 'x'.repeat(200_000),
    '/proc/cmdline': '\u0000\u0000',
    '/proc/uptime': 'not-a-number\n',
    '/etc/hostname': '\n\n',
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { item, missing } = collectSystemFacts(root, undefined);
  assert.equal(item.OSName, 'Fallback OS', '/usr/lib/os-release is read when /etc/os-release is garbage');
  assert.equal(item.TotalPhysicalMemoryInKB, undefined);
  assert.equal(item.ExtraDetails!.ContainerRuntime, RUNTIME_UNAVAILABLE);
  assert.ok(missing.includes('meminfo'));
  assert.ok(missing.includes('uptime'));
  assert.ok(missing.includes('boot device'));
  const result = validator.validateEvent(createEvent('SystemInformation', 'Periodic', [item]));
  assert.ok(result.valid, result.errors.join('\n'));
});

test('parsers: os-release quoting, meminfo without MemAvailable, cmdline, mountinfo, uptime', () => {
  assert.deepEqual(parseOsRelease(`NAME='Alpine Linux'\nVERSION_ID=3.18.4\nPRETTY_NAME="Say \\"hi\\""\n# comment\n`), { NAME: 'Alpine Linux', VERSION_ID: '3.18.4', PRETTY_NAME: 'Say "hi"' });
  assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\n'), { totalKB: 1000, freeKB: 200, swapTotalKB: undefined, swapFreeKB: undefined });
  assert.equal(bootDeviceFromCmdline('console=tty1 root=/dev/mmcblk0p2 ro'), '/dev/mmcblk0p2');
  assert.equal(bootDeviceFromCmdline('quiet -- root=/dev/fake'), undefined, 'arguments after -- go to init');
  assert.equal(
    rootDeviceFromMountinfo('22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n30 22 0:5 / /dev rw - devtmpfs udev rw\n'),
    '/dev/sda1',
  );
  assert.equal(parseUptime('350735.47 234388.90\n'), 350735);
  assert.equal(parseUptime(''), undefined);
});

test('the source emits one schema-valid SystemInformation event per snapshot and reports its status', async (t) => {
  const root = hostTree(GATEWAY);
  // No Docker here on purpose: an address nothing listens on, so the runtime reads "unavailable".
  const harness = new SourceHarness(systemInformationSource, { dockerHost: 'unix:///nonexistent/docker.sock' }, root);
  t.after(async () => {
    await harness.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const source = await harness.start();
  await source.snapshot!();
  await source.snapshot!();
  const events = harness.eventsNamed('SystemInformation');
  assert.equal(events.length, 2);
  for (const event of events) {
    const result = validator.validateEvent(event);
    assert.ok(result.valid, result.errors.join('\n'));
  }
  assert.equal(events[0]!.Payload[0]!.HostName, 'gateway-07');
  assert.equal(events[0]!.Payload[0]!.ExtraDetails!.ContainerRuntime, RUNTIME_UNAVAILABLE);
  assert.equal(harness.lastStatus()?.state, 'running');
});
