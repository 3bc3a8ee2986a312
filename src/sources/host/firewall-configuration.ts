import type { SettingDefinition } from '../../config/settings';
import { createEvent } from '../../core/event';
import type { Source, SourceContext, SourceDefinition, SourceStatus } from '../source';
import { firewallPayloadItem, type ParsedRuleset } from './firewall/firewall-rule';
import { parseIptablesSave } from './firewall/iptables-save';
import { parseNftRuleset } from './firewall/nft-json';
import { runTool } from './firewall/run-tool';
import { inHostNetworkNamespace } from './network-namespace';
import { resolveProcRoot } from './common/process-info';
import { defineEventType } from '../../core/event-types';

export const FIREWALL_EVENT = 'FirewallConfiguration';
export const FIREWALL_CONFIGURATION = defineEventType({ name: FIREWALL_EVENT, category: 'Periodic', defaultPriority: 'Low', schema: 'official' });

const SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'firewallMethod',
    type: 'enum',
    default: 'auto',
    values: ['auto', 'nft', 'iptables'],
    description:
      'How the rules are read: auto (`nft -j list ruleset`; iptables-save and ip6tables-save when nft is missing, fails, or shows no rules while legacy iptables has some), nft, or iptables.',
  },
  {
    name: 'firewallAllTables',
    type: 'boolean',
    default: false,
    description: 'Also report NAT, mangle and route tables. Off: only filter tables (iptables filter, nft tables with a filter base chain).',
  },
];

export interface FirewallSourceOptions {
  /** Command run before each tool, e.g. ['ip', 'netns', 'exec', 'test-ns'] (tests: a namespace of their own). */
  commandPrefix?: readonly string[];
}

interface Collected {
  ruleset?: ParsedRuleset;
  method: string;
  /** Set when nothing could be read. */
  failure?: string;
  /** Set when something could be read but not everything. */
  degraded?: string;
}

async function viaNft(prefix: readonly string[], allTables: boolean): Promise<Collected> {
  const r = await runTool(prefix, 'nft', ['-j', 'list', 'ruleset']);
  if (!r.ok) return { method: 'nft -j list ruleset', failure: `nft: ${r.error}` };
  return { method: 'nft -j list ruleset', ruleset: parseNftRuleset(r.stdout, allTables) };
}

async function viaIptables(prefix: readonly string[], allTables: boolean): Promise<Collected> {
  const [v4, v6] = await Promise.all([runTool(prefix, 'iptables-save', []), runTool(prefix, 'ip6tables-save', [])]);
  if (!v4.ok && !v6.ok) return { method: 'iptables-save', failure: `iptables-save: ${v4.error}; ip6tables-save: ${v6.error}` };
  const parts = [v4.ok ? parseIptablesSave(v4.stdout, 'ip', allTables) : undefined, v6.ok ? parseIptablesSave(v6.stdout, 'ip6', allTables) : undefined];
  const ruleset: ParsedRuleset = { rules: parts.flatMap((p) => p?.rules ?? []), warnings: parts.flatMap((p) => p?.warnings ?? []) };
  const missing = !v4.ok ? `iptables-save: ${v4.error}` : !v6.ok ? `ip6tables-save: ${v6.error}` : undefined;
  return { method: 'iptables-save', ruleset, ...(missing ? { degraded: `${missing}; only the other family is reported` } : {}) };
}

/** The host's rules by the configured method, with the fallbacks of `auto`. */
async function collect(prefix: readonly string[], method: string, allTables: boolean): Promise<Collected> {
  if (method === 'nft') return viaNft(prefix, allTables);
  if (method === 'iptables') return viaIptables(prefix, allTables);
  const nft = await viaNft(prefix, allTables);
  if (nft.ruleset && nft.ruleset.rules.length > 0) return nft;
  // nft missing or failing, or an empty nft ruleset beside rules of legacy (x_tables) iptables.
  const ipt = await viaIptables(prefix, allTables);
  if (ipt.ruleset && (ipt.ruleset.rules.length > 0 || !nft.ruleset)) {
    return nft.failure ? { ...ipt, degraded: [nft.failure, ipt.degraded].filter(Boolean).join('; ') } : ipt;
  }
  if (nft.ruleset) return nft;
  return { method: 'none', failure: [nft.failure, ipt.failure].join('; ') };
}

class FirewallConfiguration implements Source {
  constructor(
    private readonly ctx: SourceContext,
    private readonly prefix: readonly string[],
  ) {}

  async snapshot(): Promise<void> {
    const c = await collect(this.prefix, this.ctx.config.string('firewallMethod'), this.ctx.config.boolean('firewallAllTables'));
    if (!c.ruleset) {
      this.ctx.setStatus({ state: 'failed', reason: c.failure, method: c.method });
      this.ctx.log.warn('firewall rules not readable', { reason: c.failure });
      return;
    }
    const { rules, warnings } = c.ruleset;
    if (warnings.length > 0) this.ctx.log.warn('parts of the firewall rules could not be read and were left out', { count: warnings.length, first: warnings.slice(0, 3).join(' | ') });
    // With a command prefix (tests) the prefix chooses the namespace; otherwise it must be the host's.
    const foreign = this.prefix.length === 0 && inHostNetworkNamespace(resolveProcRoot(this.ctx.hostRoot)) === false;
    const reasons = [
      foreign ? 'not in the host network namespace (network: host missing?): these are the container\'s rules' : undefined,
      c.degraded,
      warnings.length > 0 ? `${warnings.length} unreadable rule(s) or line(s) left out` : undefined,
    ].filter(Boolean);
    const status: SourceStatus = reasons.length > 0 ? { state: 'degraded', reason: reasons.join('; '), method: c.method } : { state: 'running', method: c.method };
    this.ctx.setStatus(status);
    this.ctx.emit(createEvent(FIREWALL_EVENT, 'Periodic', rules.map(firewallPayloadItem)));
  }

  async stop(): Promise<void> {}
}

/** The FirewallConfiguration source; tests pass a command prefix to read a network namespace of their own. */
export function createFirewallConfigurationSource(options: FirewallSourceOptions = {}): SourceDefinition {
  const prefix = options.commandPrefix ?? [];
  return {
    name: 'FirewallConfiguration',
    description: 'Snapshot of the host firewall rules and default chain policies (nftables JSON, else iptables-save).',
    events: [FIREWALL_CONFIGURATION],
    settings: SETTINGS,
    async start(ctx: SourceContext): Promise<Source> {
      return new FirewallConfiguration(ctx, prefix);
    },
  };
}

export const firewallConfigurationSource: SourceDefinition = createFirewallConfigurationSource();
