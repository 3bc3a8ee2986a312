import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import { kernelModulesSource, type KernelModulesSource } from '../../../src/sources/host/kernel-modules';
import { parseProcModules } from '../../../src/sources/host/kernel/proc-modules';
import { SourceUnavailableError } from '../../../src/sources/source';
import { assertValidEvents, recordingContext } from './net-fixtures';


// Lines in the kernel's format (Debian 12 amd64, root: real addresses; taints as the kernel prints them).
const NF_TABLES = 'nf_tables 348160 1 nft_chain_nat, Live 0xffffffffc0a42000';
const NFT_CHAIN_NAT = 'nft_chain_nat 12288 0 - Live 0xffffffffc0a3c000';
const JBD2 = 'jbd2 196608 1 ext4, Live 0xffffffffc05b7000';
const VBOX = 'vboxdrv 696320 2 vboxnetadp,vboxnetflt, Live 0xffffffffc1200000 (OE)';
const PERMANENT = 'crc32c_intel 24576 0 [permanent], Live 0xffffffffc0412000';
const NO_UNLOAD = 'overlay 196608 - - Live 0x0000000000000000';
const LOADING = 'usb_storage 86016 0 - Loading 0xffffffffc0c00000';

test('parseProcModules reads every column form the kernel prints', () => {
  const { modules, malformedLines } = parseProcModules([NF_TABLES, NFT_CHAIN_NAT, JBD2, VBOX, PERMANENT, NO_UNLOAD, LOADING, ''].join('\n'));
  assert.equal(malformedLines, 0);
  assert.deepEqual(modules, [
    { name: 'nf_tables', size: 348160, referenceCount: 1, usedBy: ['nft_chain_nat'], permanent: false, state: 'Live' },
    { name: 'nft_chain_nat', size: 12288, referenceCount: 0, usedBy: [], permanent: false, state: 'Live' },
    { name: 'jbd2', size: 196608, referenceCount: 1, usedBy: ['ext4'], permanent: false, state: 'Live' },
    { name: 'vboxdrv', size: 696320, referenceCount: 2, usedBy: ['vboxnetadp', 'vboxnetflt'], permanent: false, state: 'Live', taints: 'OE' },
    { name: 'crc32c_intel', size: 24576, referenceCount: 0, usedBy: [], permanent: true, state: 'Live' },
    { name: 'overlay', size: 196608, usedBy: [], permanent: false, state: 'Live' },
    { name: 'usb_storage', size: 86016, referenceCount: 0, usedBy: [], permanent: false, state: 'Loading' },
  ]);
});

test('garbage and truncated lines are counted, the rest is kept', () => {
  const text = [
    NF_TABLES,
    'nf_nat 61440', // truncated
    '\u0000\u0001\u0002 binary junk',
    'bad name! 123 0 - Live 0x0',
    'ext4 notanumber 1 - Live 0xffffffffc0600000',
    'ext4 1036288 1 - Dead 0xffffffffc0600000',
    'ext4 1036288 1 - Live 0xffffffffc0600000 (oe)',
    'ext4 1036288 1 - Live 0xffffffffc0600000 (E) extra',
    JBD2,
    'xt_conntrack 12288 1 - Liv', // cut mid-word
  ].join('\n');
  const { modules, malformedLines } = parseProcModules(text);
  assert.deepEqual(modules.map((m) => m.name), ['nf_tables', 'jbd2']);
  assert.equal(malformedLines, 8);
});

/** Started sources, stopped on cleanup even when an assertion failed (their poll timers would keep the run alive). */
const stops: Array<() => Promise<void>> = [];

function modulesRoot(): { root: string; write(lines: string[]): void; cleanup(): void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-modules-'));
  mkdirSync(path.join(root, 'proc', '1'), { recursive: true }); // a proc tree (resolveProcRoot looks for pids)
  return {
    root,
    write: (lines) => writeFileSync(path.join(root, 'proc', 'modules'), lines.map((l) => l + '\n').join('')),
    cleanup: () => {
      for (const stop of stops.splice(0)) void stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function context(hostRoot: string, overrides: Record<string, SettingValue> = {}) {
  return recordingContext(kernelModulesSource, hostRoot, { kernelModulesPollInterval: 'PT1H', ...overrides });
}

test('KernelModules: snapshot of the prepared list; a module appearing is one KernelModuleLoad; gone and back is a new load', async () => {
  const host = modulesRoot();
  try {
    host.write([NF_TABLES, NFT_CHAIN_NAT, JBD2]);
    const { ctx, events, statuses, log } = context(host.root);
    const source = (await kernelModulesSource.start(ctx)) as KernelModulesSource;
    stops.push(() => source.stop());
    assert.equal(statuses.at(-1)?.state, 'running');
    await source.snapshot!();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.Name, 'KernelModules');
    assert.equal(events[0]!.Category, 'Periodic');
    assert.deepEqual(events[0]!.Payload, [
      { Name: 'jbd2', Size: 196608, State: 'Live', UsedBy: 'ext4', ReferenceCount: 1 },
      { Name: 'nf_tables', Size: 348160, State: 'Live', UsedBy: 'nft_chain_nat', ReferenceCount: 1 },
      { Name: 'nft_chain_nat', Size: 12288, State: 'Live', UsedBy: '', ReferenceCount: 0 },
    ]);

    source.pollNow();
    assert.equal(events.length, 1, 'nothing new: no event');
    host.write([NF_TABLES, NFT_CHAIN_NAT, JBD2, VBOX, 'garbage line here', PERMANENT]);
    source.pollNow();
    const loads = events.filter((e) => e.Name === 'KernelModuleLoad');
    assert.deepEqual(loads.map((e) => e.Payload), [
      [{ Name: 'vboxdrv', Size: 696320, State: 'Live', UsedBy: 'vboxnetadp;vboxnetflt', ReferenceCount: 2, Taints: 'OE' }],
      [{ Name: 'crc32c_intel', Size: 24576, State: 'Live', UsedBy: '', ReferenceCount: 0, Permanent: true }],
    ]);
    assert.ok(loads.every((e) => e.Category === 'Triggered'));
    assert.ok(log.warnings().includes('malformed lines in the kernel module list skipped'), log.warnings().join('|'));

    host.write([NF_TABLES, NFT_CHAIN_NAT, JBD2]); // vboxdrv and crc32c_intel unloaded
    source.pollNow();
    assert.equal(events.length, 3, 'an unload is no load event');
    host.write([NF_TABLES, NFT_CHAIN_NAT, JBD2, VBOX]);
    source.pollNow();
    assert.equal(events.length, 4);
    assert.equal(events[3]!.Payload[0]!.Name, 'vboxdrv');
    await source.snapshot!();
    assert.deepEqual(events[4]!.Payload.map((m) => m.Name), ['jbd2', 'nf_tables', 'nft_chain_nat', 'vboxdrv']);
    assertValidEvents(events);
    await source.stop();
  } finally {
    host.cleanup();
  }
});

test('KernelModules: the poll timer reports a load by itself; a vanished file is a warning, not a crash', async () => {
  const host = modulesRoot();
  try {
    host.write([JBD2]);
    const { ctx, events, log } = context(host.root, { kernelModulesPollInterval: 'PT0.05S' });
    const source = await kernelModulesSource.start(ctx);
    stops.push(() => source.stop());
    host.write([JBD2, LOADING]);
    const deadline = Date.now() + 3000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(events.map((e) => [e.Name, e.Payload[0]?.Name, e.Payload[0]?.State]), [['KernelModuleLoad', 'usb_storage', 'Loading']]);
    rmSync(path.join(host.root, 'proc', 'modules'));
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(log.warnings().includes('kernel module list not readable'));
    await source.snapshot!(); // nothing to report, no throw
    assert.equal(events.length, 1);
    assertValidEvents(events);
    await source.stop();
  } finally {
    host.cleanup();
  }
});

test('KernelModules refuses to start without /proc/modules (kernel without module support), with the reason', async () => {
  const host = modulesRoot();
  try {
    await assert.rejects(kernelModulesSource.start(context(host.root).ctx), (err: unknown) => err instanceof SourceUnavailableError && /no loadable module support/.test(err.reason));
  } finally {
    host.cleanup();
  }
});

test('an empty module list is a valid empty snapshot', async () => {
  const host = modulesRoot();
  try {
    host.write([]);
    const { ctx, events } = context(host.root);
    const source = await kernelModulesSource.start(ctx);
    stops.push(() => source.stop());
    await source.snapshot!();
    assert.equal(events[0]?.IsEmpty, true);
    assertValidEvents(events);
    await source.stop();
  } finally {
    host.cleanup();
  }
});
