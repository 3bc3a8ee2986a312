import { protocolName, type FirewallRule, type ParsedRuleset } from './firewall-rule';

type Json = Record<string, unknown>;

const VERDICTS = new Set(['accept', 'drop', 'reject', 'return', 'continue', 'queue', 'jump', 'goto']);
/** Statements that change packets or do bookkeeping; they are not a verdict and not a match. */
const NAT_STATEMENTS = new Set(['snat', 'dnat', 'masquerade', 'redirect']);

interface ChainInfo {
  hook?: string;
  policy?: string;
  type?: string;
  prio?: number;
}

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** Text of an nft JSON value: "10.0.0.0/8", "1000-2000", "80,443", "@set", "lo"… */
export function nftValueText(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(nftValueText).join(',');
  const o = obj(v);
  if (!o) return JSON.stringify(v);
  const prefix = obj(o.prefix);
  if (prefix) return `${nftValueText(prefix.addr)}/${nftValueText(prefix.len)}`;
  if (Array.isArray(o.range)) return o.range.map(nftValueText).join('-');
  if ('set' in o) return nftValueText(o.set);
  if (Array.isArray(o.concat)) return o.concat.map(nftValueText).join(' . ');
  return JSON.stringify(v);
}

function negated(op: unknown, text: string): string {
  return op === '!=' ? `!${text}` : text;
}

function leftText(left: unknown): string {
  const o = obj(left);
  if (!o) return nftValueText(left);
  const [key, value] = Object.entries(o)[0] ?? ['?', undefined];
  const inner = obj(value);
  if (key === 'payload' && inner) return `${String(inner.protocol ?? inner.base ?? '')} ${String(inner.field ?? '')}`.trim();
  if ((key === 'meta' || key === 'ct') && inner) return `${key} ${String(inner.key ?? '')}`;
  return key;
}

/** Applies one `match` expression: known fields to their place, anything else to conditions. */
function applyMatch(rule: FirewallRule, match: Json): void {
  const left = obj(match.left);
  const value = negated(match.op, nftValueText(match.right));
  const payload = obj(left?.payload);
  const meta = obj(left?.meta);
  if (payload && typeof payload.field === 'string') {
    const proto = String(payload.protocol ?? '');
    switch (payload.field) {
      case 'saddr':
        if (proto === 'ip' || proto === 'ip6') return void (rule.source = value);
        break;
      case 'daddr':
        if (proto === 'ip' || proto === 'ip6') return void (rule.destination = value);
        break;
      case 'sport':
      case 'dport':
        if (proto !== 'th' && proto !== '') rule.protocol = protocolName(proto);
        if (payload.field === 'sport') rule.sourcePort = value;
        else rule.destinationPort = value;
        return;
      case 'protocol':
      case 'nexthdr':
        if (proto === 'ip' || proto === 'ip6') return void (rule.protocol = negated(match.op, protocolName(nftValueText(match.right))));
        break;
    }
  }
  if (meta && meta.key === 'l4proto') return void (rule.protocol = negated(match.op, protocolName(nftValueText(match.right))));
  if (meta && meta.key === 'iifname') return void (rule.inInterface = value);
  if (meta && meta.key === 'oifname') return void (rule.outInterface = value);
  const op = typeof match.op === 'string' && match.op !== '==' && match.op !== 'in' ? ` ${match.op}` : '';
  rule.conditions.push(`${leftText(match.left)}${op} ${nftValueText(match.right)}`);
}

function applyStatement(rule: FirewallRule, statement: Json): void {
  const [key, value] = Object.entries(statement)[0] ?? ['', undefined];
  if (key === 'match') {
    const match = obj(value);
    if (match) applyMatch(rule, match);
    else rule.unparsed.push('match');
    return;
  }
  if (VERDICTS.has(key)) {
    const target = obj(value)?.target;
    rule.verdict = typeof target === 'string' ? `${key} ${target}` : key;
    return;
  }
  if (key === 'vmap') {
    // A verdict map: the verdict depends on a key (e.g. tcp dport vmap { 22 : accept, 23 : drop }).
    const v = obj(value);
    rule.verdict = 'vmap';
    const entries = Array.isArray(obj(v?.data)?.set) ? (obj(v?.data)!.set as unknown[]) : [];
    const text = entries.map((e) => (Array.isArray(e) ? `${nftValueText(e[0])}: ${Object.keys(obj(e[1]) ?? {})[0] ?? '?'}` : nftValueText(e))).join(', ');
    rule.conditions.push(`${leftText(v?.key)} vmap { ${text} }`.slice(0, 200));
    return;
  }
  if (NAT_STATEMENTS.has(key)) {
    rule.verdict = key;
    return;
  }
  if (key === 'counter' || key === 'log') return;
  if (key === 'limit') {
    const l = obj(value);
    rule.conditions.push(`limit ${String(l?.rate ?? '')}/${String(l?.per ?? '')}`);
    return;
  }
  if (key === 'xt') {
    const x = obj(value);
    // iptables-nft compat expressions carry no match details in the JSON.
    rule.unparsed.push(`xt ${String(x?.type ?? '')} ${String(x?.name ?? '')}`.trim());
    return;
  }
  rule.unparsed.push(key);
}

/** Tables whose chains filter packets: those with a base chain of type filter. */
function filterTables(chains: Map<string, ChainInfo>): Set<string> {
  const out = new Set<string>();
  for (const [key, c] of chains) if (c.type === 'filter') out.add(key.split('\u0000').slice(0, 2).join('\u0000'));
  return out;
}

/**
 * Rules and default policies of `nft -j list ruleset`. Only tables with filter chains unless
 * `allTables` (NAT and route chains say little about what is let in). Unparsable items are counted in warnings.
 */
export function parseNftRuleset(text: string, allTables = false): ParsedRuleset {
  const warnings: string[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { rules: [], warnings: [`nft output is not JSON: ${(err as Error).message}`] };
  }
  const items = obj(doc)?.nftables;
  if (!Array.isArray(items)) return { rules: [], warnings: ['nft output has no "nftables" array'] };
  const chains = new Map<string, ChainInfo>();
  const chainKey = (family: unknown, table: unknown, name: unknown): string => `${String(family)}\u0000${String(table)}\u0000${String(name)}`;
  for (const item of items) {
    const c = obj(obj(item)?.chain);
    if (!c) continue;
    chains.set(chainKey(c.family, c.table, c.name), {
      hook: typeof c.hook === 'string' ? c.hook : undefined,
      policy: typeof c.policy === 'string' ? c.policy : undefined,
      type: typeof c.type === 'string' ? c.type : undefined,
      prio: typeof c.prio === 'number' ? c.prio : undefined,
    });
  }
  const tables = filterTables(chains);
  const included = (family: unknown, table: unknown): boolean => allTables || tables.has(`${String(family)}\u0000${String(table)}`);
  const counts = new Map<string, number>();
  const rules: FirewallRule[] = [];
  let bad = 0;
  for (const item of items) {
    const r = obj(obj(item)?.rule);
    if (!r) continue;
    if (typeof r.family !== 'string' || typeof r.table !== 'string' || typeof r.chain !== 'string' || !Array.isArray(r.expr)) {
      bad++;
      continue;
    }
    if (!included(r.family, r.table)) continue;
    const key = chainKey(r.family, r.table, r.chain);
    const priority = (counts.get(key) ?? 0) + 1;
    counts.set(key, priority);
    const rule: FirewallRule = {
      family: r.family,
      table: r.table,
      chain: r.chain,
      hook: chains.get(key)?.hook,
      priority,
      isPolicy: false,
      verdict: 'none',
      conditions: [],
      unparsed: [],
      ...(typeof r.comment === 'string' ? { comment: r.comment } : {}),
    };
    for (const statement of r.expr) {
      const s = obj(statement);
      if (s) applyStatement(rule, s);
      else rule.unparsed.push(JSON.stringify(statement).slice(0, 40));
    }
    rules.push(rule);
  }
  if (bad > 0) warnings.push(`${bad} nft rule object(s) without family/table/chain/expr skipped`);
  for (const [key, c] of chains) {
    if (!c.hook || !c.policy) continue;
    const [family = '', table = '', chain = ''] = key.split('\u0000');
    if (!included(family, table)) continue;
    rules.push({
      family,
      table,
      chain,
      hook: c.hook,
      priority: (counts.get(key) ?? 0) + 1,
      isPolicy: true,
      verdict: c.policy,
      conditions: c.prio !== undefined ? [`chain priority ${c.prio}`] : [],
      unparsed: [],
    });
  }
  return { rules, warnings };
}
