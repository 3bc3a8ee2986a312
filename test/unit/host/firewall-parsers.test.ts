import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { firewallPayloadItem, type FirewallRule } from '../../../src/sources/host/firewall/firewall-rule';
import { parseIptablesSave } from '../../../src/sources/host/firewall/iptables-save';
import { splitWords } from '../../../src/sources/host/split-words';
import { parseNftRuleset } from '../../../src/sources/host/firewall/nft-json';
import { FIREWALL_EVENT } from '../../../src/sources/host/firewall-configuration';
import { referenceSchemaDir, repoRoot } from '../../harness/paths';

const validator = createSchemaValidator(referenceSchemaDir());

function valid(rules: FirewallRule[]): void {
  const event = createEvent(FIREWALL_EVENT, 'Periodic', rules.map(firewallPayloadItem));
  assert.deepEqual(validator.validateEvent(event).errors, []);
}

function find(rules: FirewallRule[], chain: string, priority: number): FirewallRule {
  const r = rules.find((x) => x.chain === chain && x.priority === priority);
  assert.ok(r, `${chain} #${priority}`);
  return r;
}

test('nft JSON captured from a real ruleset: fields, priorities, policies, directions', () => {
  const text = readFileSync(path.join(repoRoot(), 'test/fixtures/firewall/nft-ruleset.json'), 'utf8');
  const { rules, warnings } = parseNftRuleset(text);
  assert.deepEqual(warnings, []);
  valid(rules);
  const input = rules.filter((r) => r.family === 'inet' && r.chain === 'input');
  assert.equal(input.length, 10, '9 rules + policy');
  assert.deepEqual(find(input, 'input', 1).conditions, ['ct state established,related']);
  assert.equal(find(input, 'input', 2).inInterface, 'lo');
  const ssh = firewallPayloadItem(find(input, 'input', 3));
  assert.deepEqual(ssh, {
    Enabled: true,
    Action: 'Allow',
    Priority: 3,
    ChainName: 'input',
    Direction: 'In',
    SourceAddress: '10.0.0.0/8',
    DestinationPort: '22',
    Protocol: 'TCP',
    ExtraDetails: { Family: 'inet', Table: 'filter', Verdict: 'accept', Type: 'Rule', Hook: 'input', Comment: 'ssh from lan' },
  });
  assert.equal(find(input, 'input', 4).source, '2001:db8::/32');
  assert.equal(find(input, 'input', 4).destinationPort, '80,443');
  assert.deepEqual([find(input, 'input', 5).destinationPort, find(input, 'input', 5).protocol, find(input, 'input', 5).verdict], ['1000-2000', 'UDP', 'drop']);
  assert.equal(find(input, 'input', 6).source, '@allowed');
  assert.equal(find(input, 'input', 7).protocol, 'ICMP');
  assert.deepEqual([find(input, 'input', 8).destinationPort, firewallPayloadItem(find(input, 'input', 8)).Action], ['!8080', 'Deny']);
  assert.deepEqual([find(input, 'input', 9).verdict, firewallPayloadItem(find(input, 'input', 9)).Action], ['jump custom', 'Other']);
  const policy = find(input, 'input', 10);
  assert.deepEqual([policy.isPolicy, policy.verdict, firewallPayloadItem(policy).Action], [true, 'drop', 'Deny']);
  // A chain only jumped to has no direction; output is Out; forward has none but keeps its hook.
  assert.equal(firewallPayloadItem(find(rules, 'custom', 1)).Direction, undefined);
  assert.equal(find(rules, 'custom', 1).destination, '192.0.2.9');
  assert.equal(firewallPayloadItem(find(rules, 'output', 1)).Direction, 'Out');
  const forward = firewallPayloadItem(find(rules, 'forward', 1));
  assert.deepEqual([forward.Direction, forward.Action, (forward.ExtraDetails as Record<string, string>).Hook], [undefined, 'Deny', 'forward']);
  // iptables-nft rules: the prefix/port match is plain nft, the conntrack match an opaque xt expression.
  const ipt = rules.filter((r) => r.family === 'ip' && r.chain === 'INPUT');
  assert.equal(ipt[0]!.source, '192.0.2.0/24');
  assert.deepEqual(ipt[1]!.unparsed, ['xt match conntrack']);
  assert.equal(ipt[2]!.isPolicy, true);
});

test('nft JSON: garbage and malformed rule objects give warnings and the rest', () => {
  assert.match(parseNftRuleset('not json {').warnings[0]!, /not JSON/);
  assert.match(parseNftRuleset('{"x":1}').warnings[0]!, /no "nftables" array/);
  const doc = {
    nftables: [
      { chain: { family: 'ip', table: 't', name: 'in', hook: 'input', type: 'filter', prio: 0, policy: 'accept' } },
      { rule: { family: 'ip', table: 't', chain: 'in' } },
      { rule: { family: 'ip', table: 't', chain: 'in', expr: [{ mystery: { a: 1 } }, 42, { drop: null }] } },
      { rule: { family: 'ip', table: 't', chain: 'in', expr: [{ match: { op: '==', left: { payload: { protocol: 'th', field: 'dport' } }, right: 53 } }, { accept: null }] } },
      // Captured from nft 1.0.6: tcp dport vmap { 22 : accept, 23 : drop }
      { rule: { family: 'ip', table: 't', chain: 'in', expr: [{ vmap: { key: { payload: { protocol: 'tcp', field: 'dport' } }, data: { set: [[22, { accept: null }], [23, { drop: null }]] } } }] } },
    ],
  };
  const { rules, warnings } = parseNftRuleset(JSON.stringify(doc));
  assert.equal(warnings.length, 1);
  assert.deepEqual(rules.map((r) => [r.priority, r.verdict, r.unparsed.join('|')]), [
    [1, 'drop', 'mystery|42'],
    [2, 'accept', ''],
    [3, 'vmap', ''],
    [4, 'accept', ''],
  ]);
  assert.deepEqual(rules[2]!.conditions, ['tcp dport vmap { 22: accept, 23: drop }']);
  assert.equal(firewallPayloadItem(rules[2]!).Action, 'Other');
  assert.equal(rules[1]!.protocol, undefined, 'th dport says nothing about the protocol');
  valid(rules);
});

const IPTABLES_SAVE = `# Generated by iptables-save v1.8.9 (nf_tables) on Mon Nov 23 15:29:00 2026
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.0.2.80:8080
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:EDGE-IN - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -s 10.0.0.0/8 ! -d 10.0.0.1/32 -p tcp -m tcp --dport 22 -m comment --comment "ssh from \\"lan\\"" -j ACCEPT
-A INPUT -p udp -m multiport --dports 5683,8883:8890 -j EDGE-IN
-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset
-A INPUT -p tcp --dport "unterminated
-A INPUT -m limit --limit 5/min -j LOG --log-prefix "in: "
this is garbage
-A EDGE-IN -s 192.0.2.0/24 -j RETURN
-A OUTPUT -p tcp --sport 22 -j ACCEPT
-A OUTPUT -o eth0 -p icmp -j DROP
COMMIT
`;

test('iptables-save text: rules, negation, multiport, quotes, policies; unreadable lines skipped', () => {
  const { rules, warnings } = parseIptablesSave(IPTABLES_SAVE, 'ip');
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings.join('\n'), /line 16: unbalanced quotes, rule skipped/);
  assert.match(warnings.join('\n'), /line 18: not a rule, skipped/);
  valid(rules);
  assert.equal(rules.filter((r) => r.table === 'nat').length, 0, 'nat left out by default');
  assert.equal(parseIptablesSave(IPTABLES_SAVE, 'ip', true).rules.filter((r) => r.table === 'nat').length, 2);
  const ssh = find(rules, 'INPUT', 3);
  assert.deepEqual(
    [ssh.source, ssh.destination, ssh.protocol, ssh.destinationPort, ssh.comment, ssh.verdict],
    ['10.0.0.0/8', '!10.0.0.1/32', 'TCP', '22', 'ssh from "lan"', 'accept'],
  );
  assert.deepEqual(find(rules, 'INPUT', 2).conditions, ['--ctstate RELATED,ESTABLISHED']);
  assert.deepEqual([find(rules, 'INPUT', 4).destinationPort, find(rules, 'INPUT', 4).verdict], ['5683,8883-8890', 'jump EDGE-IN']);
  assert.deepEqual([find(rules, 'INPUT', 5).verdict, firewallPayloadItem(find(rules, 'INPUT', 5)).Action], ['reject', 'Deny']);
  // Line 16 (unterminated quote) is skipped but keeps its place: the LOG rule is the 7th of INPUT.
  assert.deepEqual([find(rules, 'INPUT', 7).verdict, find(rules, 'INPUT', 7).conditions], ['log', ['--limit 5/min', 'LOG --log-prefix in: ']]);
  const policy = find(rules, 'INPUT', 8);
  assert.deepEqual([policy.isPolicy, policy.verdict, firewallPayloadItem(policy).Direction], [true, 'drop', 'In']);
  assert.equal(rules.some((r) => r.chain === 'EDGE-IN' && r.isPolicy), false, 'user chains have no policy');
  assert.equal(firewallPayloadItem(find(rules, 'OUTPUT', 2)).Direction, 'Out');
  assert.equal(find(rules, 'OUTPUT', 2).outInterface, 'eth0');
  assert.equal(firewallPayloadItem(find(rules, 'FORWARD', 1)).Action, 'Deny');
});

test('iptables-save: cut-short output and lines outside a table', () => {
  const { rules, warnings } = parseIptablesSave('-A INPUT -j ACCEPT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -s\n-A INPUT -j DROP\n', 'ip6');
  assert.deepEqual(warnings.map((w) => w.replace(/:.*$/, '')), ['line 1', 'line 4', 'table filter has no COMMIT line (output cut short?)']);
  assert.deepEqual(rules.map((r) => [r.priority, r.verdict, r.family]), [[2, 'drop', 'ip6'], [3, 'accept', 'ip6']]);
  assert.deepEqual(splitWords('a "b c" d\\ e'), ['a', 'b c', 'd e']);
  assert.equal(splitWords('a "b'), undefined);
});
