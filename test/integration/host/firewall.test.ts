import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { symlinkSync } from 'node:fs';
import { test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import type { PayloadItem } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { createFirewallConfigurationSource, FIREWALL_EVENT } from '../../../src/sources/host/firewall-configuration';
import { HostTree } from '../../harness/host-tree';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

const validator = createSchemaValidator(referenceSchemaDir());

function sh(args: string[], input?: string): { ok: boolean; out: string } {
  const r = spawnSync(args[0]!, args.slice(1), { input, encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}` };
}

/** Why a namespace of our own cannot be made here (the host's firewall is never touched). */
function namespaceUnavailable(): string | undefined {
  for (const tool of ['ip', 'nft', 'iptables', 'iptables-save']) {
    if (!sh(['sh', '-c', `command -v ${tool}`]).ok) return `${tool} not installed; run scripts/setup-test-env.sh`;
  }
  const probe = `edgeguard-test-probe-${process.pid}`;
  const add = sh(['ip', 'netns', 'add', probe]);
  if (!add.ok) return `cannot create a network namespace (needs root): ${add.out.trim()}`;
  sh(['ip', 'netns', 'del', probe]);
  return undefined;
}

const unavailable = namespaceUnavailable();
if (unavailable) console.error(`SKIP: ${unavailable}`);

async function withNamespace(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `edgeguard-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  assert.ok(sh(['ip', 'netns', 'add', ns]).ok);
  try {
    await fn(ns);
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
}

async function snapshot(prefix: string[], overrides: Record<string, SettingValue> = {}): Promise<SourceHarness> {
  const harness = new SourceHarness(createFirewallConfigurationSource({ commandPrefix: prefix }), overrides);
  const source = await harness.start();
  await source.snapshot?.();
  return harness;
}

const RULES = `table inet edge {
  chain input {
    type filter hook input priority 0; policy drop;
    iifname "lo" accept
    ip saddr 192.0.2.0/24 tcp dport 8883 accept comment "mqtt"
    ip6 saddr 2001:db8::/32 udp dport 5683 accept
    tcp dport 23 reject
  }
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 198.51.100.7 drop
  }
}
`;

function items(harness: SourceHarness): PayloadItem[] {
  const [event] = harness.eventsNamed(FIREWALL_EVENT);
  assert.ok(event, 'one FirewallConfiguration event');
  assert.deepEqual(validator.validateEvent(event).errors, []);
  return event.Payload;
}

test('nft rules of a fresh network namespace, with default policies', { skip: unavailable }, async () => {
  await withNamespace(async (ns) => {
    const loaded = sh(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], RULES);
    assert.ok(loaded.ok, loaded.out);
    const harness = await snapshot(['ip', 'netns', 'exec', ns]);
    try {
      assert.deepEqual(harness.lastStatus(), { state: 'running', method: 'nft -j list ruleset' });
      const payload = items(harness);
      const summary = payload.map((p) => `${p.ChainName}#${p.Priority} ${p.Direction ?? '-'} ${p.Action} ${p.Protocol ?? '*'} ${p.SourceAddress ?? '*'} ${p.DestinationAddress ?? '*'}:${p.DestinationPort ?? '*'}`);
      assert.deepEqual(summary, [
        'input#1 In Allow * * *:*',
        'input#2 In Allow TCP 192.0.2.0/24 *:8883',
        'input#3 In Allow UDP 2001:db8::/32 *:5683',
        'input#4 In Deny TCP * *:23',
        'output#1 Out Deny * * 198.51.100.7:*',
        'input#5 In Deny * * *:*',
        'output#2 Out Allow * * *:*',
      ]);
      assert.equal((payload[5]!.ExtraDetails as Record<string, string>).Type, 'ChainPolicy');
    } finally {
      await harness.stop();
    }
  });
});

test('iptables-save and ip6tables-save in a namespace (method iptables)', { skip: unavailable }, async () => {
  await withNamespace(async (ns) => {
    const x = (...args: string[]): void => {
      const r = sh(['ip', 'netns', 'exec', ns, ...args]);
      assert.ok(r.ok, r.out);
    };
    x('iptables', '-P', 'INPUT', 'DROP');
    x('iptables', '-A', 'INPUT', '-s', '192.0.2.0/24', '-p', 'tcp', '--dport', '443', '-j', 'ACCEPT');
    x('iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
    x('ip6tables', '-A', 'OUTPUT', '-d', '2001:db8::1/128', '-p', 'udp', '-m', 'multiport', '--dports', '53,5353', '-j', 'REJECT');
    const harness = await snapshot(['ip', 'netns', 'exec', ns], { firewallMethod: 'iptables' });
    try {
      assert.deepEqual(harness.lastStatus(), { state: 'running', method: 'iptables-save' });
      const payload = items(harness);
      const v4 = payload.filter((p) => (p.ExtraDetails as Record<string, string>).Family === 'ip');
      const v6 = payload.filter((p) => (p.ExtraDetails as Record<string, string>).Family === 'ip6');
      assert.deepEqual(
        v4.filter((p) => p.ChainName === 'INPUT').map((p) => [p.Priority, p.Action, p.SourceAddress ?? '*', p.DestinationPort ?? '*']),
        [
          [1, 'Allow', '192.0.2.0/24', '443'],
          [2, 'Deny', '*', '*'],
          [3, 'Deny', '*', '*'],
        ],
      );
      assert.equal((v4[1]!.ExtraDetails as Record<string, string>).Conditions, '--ctstate INVALID');
      const out6 = v6.find((p) => p.ChainName === 'OUTPUT' && p.Priority === 1)!;
      assert.deepEqual([out6.Direction, out6.Action, out6.DestinationAddress, out6.DestinationPort, out6.Protocol], ['Out', 'Deny', '2001:db8::1/128', '53,5353', 'UDP']);
    } finally {
      await harness.stop();
    }
  });
});

test('auto: the same iptables rules are seen through nft when iptables is the nf_tables variant', { skip: unavailable }, async () => {
  await withNamespace(async (ns) => {
    assert.ok(sh(['ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']).ok);
    const harness = await snapshot(['ip', 'netns', 'exec', ns]);
    try {
      const rule = items(harness).find((p) => p.ChainName === 'INPUT' && p.Priority === 1);
      assert.deepEqual([rule?.Action, rule?.DestinationPort, rule?.Protocol], ['Allow', '22', 'TCP']);
    } finally {
      await harness.stop();
    }
  });
});

test('tools missing: failed with the reason, no event; permission denied: failed with the reason', { skip: unavailable }, async () => {
  let harness = await snapshot(['env', 'PATH=/nonexistent']);
  try {
    assert.equal(harness.lastStatus()?.state, 'failed');
    assert.match(harness.lastStatus()?.reason ?? '', /nft: nft not installed; iptables-save: iptables-save not installed/);
    assert.equal(harness.events.length, 0);
  } finally {
    await harness.stop();
  }
  if (!sh(['sh', '-c', 'command -v setpriv']).ok) {
    console.error('SKIP: setpriv missing, permission-denied case not run');
    return;
  }
  harness = await snapshot(['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']);
  try {
    assert.equal(harness.lastStatus()?.state, 'failed');
    assert.match(harness.lastStatus()?.reason ?? '', /nft: permission denied.*iptables-save: permission denied/);
    assert.equal(harness.events.length, 0);
  } finally {
    await harness.stop();
  }
});

test('live host, read only: the snapshot runs and is schema-valid or fails with a reason', { skip: unavailable }, async () => {
  const before = sh(['nft', 'list', 'ruleset']).out;
  const harness = await snapshot([]);
  try {
    const status = harness.lastStatus();
    assert.ok(status, 'a status is reported');
    if (status.state === 'failed') assert.ok(status.reason);
    else items(harness);
  } finally {
    await harness.stop();
  }
  assert.equal(sh(['nft', 'list', 'ruleset']).out, before, 'the host ruleset is unchanged');
});

test('outside the host network namespace (host init elsewhere): degraded with the reason', { skip: unavailable }, async () => {
  const tree = new HostTree();
  try {
    tree.mkdir('/proc/self');
    tree.mkdir('/proc/1/ns');
    symlinkSync('net:[1]', tree.path('/proc/1/ns/net'));
    const harness = new SourceHarness(createFirewallConfigurationSource(), {}, tree.root);
    try {
      const source = await harness.start();
      await source.snapshot?.();
      const status = harness.lastStatus();
      assert.equal(status?.state, 'degraded');
      assert.match(status?.reason ?? '', /not in the host network namespace/);
    } finally {
      await harness.stop();
    }
  } finally {
    tree.remove();
  }
});
