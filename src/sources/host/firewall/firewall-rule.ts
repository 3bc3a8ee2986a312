import type { PayloadItem } from '../../../core/event';

/** One filtering rule or default chain policy, whichever tool it came from. */
export interface FirewallRule {
  family: string;
  table: string;
  chain: string;
  /** The netfilter hook of the chain (input, output, forward, prerouting…); undefined for a chain that is only jumped to. */
  hook?: string;
  /** 1-based position in its chain; a chain's default policy comes after its last rule. */
  priority: number;
  isPolicy: boolean;
  /** accept, drop, reject, jump <chain>, goto <chain>, return, queue, none… */
  verdict: string;
  source?: string;
  destination?: string;
  sourcePort?: string;
  destinationPort?: string;
  protocol?: string;
  inInterface?: string;
  outInterface?: string;
  comment?: string;
  /** Matches with no field of their own (ct state, limits, marks…), as text. */
  conditions: string[];
  /** Parts the parser did not understand (e.g. iptables-nft "xt" matches in nft JSON). */
  unparsed: string[];
}

/** Direction of the schema (In / Out) from the hook; forward and the NAT hooks have none. */
export function directionOfHook(hook: string | undefined): 'In' | 'Out' | undefined {
  if (hook === 'input') return 'In';
  if (hook === 'output') return 'Out';
  return undefined;
}

export function actionOfVerdict(verdict: string): 'Allow' | 'Deny' | 'Other' {
  if (verdict === 'accept') return 'Allow';
  if (verdict === 'drop' || verdict === 'reject') return 'Deny';
  return 'Other';
}

/** The FirewallConfiguration payload item of a rule (official schema fields, the rest in ExtraDetails). */
export function firewallPayloadItem(rule: FirewallRule): PayloadItem {
  const item: PayloadItem = { Enabled: true, Action: actionOfVerdict(rule.verdict), Priority: rule.priority, ChainName: rule.chain };
  const direction = directionOfHook(rule.hook);
  if (direction) item.Direction = direction;
  if (rule.source !== undefined) item.SourceAddress = rule.source;
  if (rule.sourcePort !== undefined) item.SourcePort = rule.sourcePort;
  if (rule.destination !== undefined) item.DestinationAddress = rule.destination;
  if (rule.destinationPort !== undefined) item.DestinationPort = rule.destinationPort;
  if (rule.protocol !== undefined) item.Protocol = rule.protocol;
  const extra: Record<string, string> = { Family: rule.family, Table: rule.table, Verdict: rule.verdict, Type: rule.isPolicy ? 'ChainPolicy' : 'Rule' };
  if (rule.hook) extra.Hook = rule.hook;
  if (rule.inInterface) extra.InInterface = rule.inInterface;
  if (rule.outInterface) extra.OutInterface = rule.outInterface;
  if (rule.conditions.length > 0) extra.Conditions = rule.conditions.join('; ');
  if (rule.unparsed.length > 0) extra.Unparsed = rule.unparsed.join('; ');
  if (rule.comment) extra.Comment = rule.comment;
  item.ExtraDetails = extra;
  return item;
}

export interface ParsedRuleset {
  rules: FirewallRule[];
  /** Human-readable reasons for the parts left out (never the whole input). */
  warnings: string[];
}

/** "tcp" → "TCP"; numeric protocols stay numbers. */
export function protocolName(value: string): string {
  return /^[a-z0-9-]+$/i.test(value) ? value.toUpperCase() : value;
}
