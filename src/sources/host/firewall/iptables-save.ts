import { splitWords } from '../split-words';
import { protocolName, type FirewallRule, type ParsedRuleset } from './firewall-rule';

const BUILTIN_HOOKS: Record<string, string> = {
  INPUT: 'input',
  OUTPUT: 'output',
  FORWARD: 'forward',
  PREROUTING: 'prerouting',
  POSTROUTING: 'postrouting',
};

const VERDICTS: Record<string, string> = { ACCEPT: 'accept', DROP: 'drop', REJECT: 'reject', RETURN: 'return', QUEUE: 'queue', NFQUEUE: 'queue' };

const portText = (v: string): string => v.replace(/:/g, '-');
const asIs = (v: string): string => v;

type MatchField = 'source' | 'destination' | 'protocol' | 'inInterface' | 'outInterface' | 'destinationPort' | 'sourcePort';

/** Options that set one field of the rule from their value (negated by a `!` before them): option -> [field, how the value reads]. */
const FIELD_OPTIONS = new Map<string, readonly [MatchField, (value: string) => string]>([
  ...['-s', '--source', '--src'].map((o) => [o, ['source', asIs]] as const),
  ...['-d', '--destination', '--dst'].map((o) => [o, ['destination', asIs]] as const),
  ...['-p', '--protocol'].map((o) => [o, ['protocol', protocolName]] as const),
  ...['-i', '--in-interface'].map((o) => [o, ['inInterface', asIs]] as const),
  ...['-o', '--out-interface'].map((o) => [o, ['outInterface', asIs]] as const),
  ...['--dport', '--dports', '--destination-port', '--destination-ports'].map((o) => [o, ['destinationPort', portText]] as const),
  ...['--sport', '--sports', '--source-port', '--source-ports'].map((o) => [o, ['sourcePort', portText]] as const),
]);

/** Applies the words after `-A CHAIN` to `rule`; returns a reason when the rule cannot be read. */
function applyWords(rule: FirewallRule, words: string[]): string | undefined {
  let negate = false;
  const take = (i: number): string | undefined => words[i];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '!') {
      negate = true;
      continue;
    }
    const not = negate ? '!' : '';
    negate = false;
    const value = take(i + 1);
    const needsValue = (): string | undefined => (value === undefined ? `option ${w} without a value` : undefined);
    const field = FIELD_OPTIONS.get(w);
    if (field) {
      if (needsValue()) return needsValue();
      rule[field[0]] = not + field[1](value!);
      i++;
      continue;
    }
    switch (w) {
      case '--comment':
        if (needsValue()) return needsValue();
        rule.comment = value;
        i++;
        continue;
      case '-m':
      case '--match':
        if (needsValue()) return needsValue();
        i++;
        continue;
      case '-c':
      case '--set-counters':
        i += 2;
        continue;
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        if (needsValue()) return needsValue();
        const target = value!;
        const verdict = VERDICTS[target];
        rule.verdict = verdict ?? (w === '-g' || w === '--goto' ? `goto ${target}` : BUILTIN_OR_EXTENSION.has(target) ? target.toLowerCase() : `jump ${target}`);
        const options = words.slice(i + 2);
        if (options.length > 0 && verdict !== 'reject') rule.conditions.push(`${target} ${options.join(' ')}`);
        return undefined;
      }
      default: {
        if (!w.startsWith('-')) return `unexpected word "${w.slice(0, 40)}"`;
        // A match module option with its values (--ctstate RELATED,ESTABLISHED, --limit 5/min…).
        const values: string[] = [];
        while (i + 1 < words.length && !words[i + 1]!.startsWith('-') && words[i + 1] !== '!') values.push(words[++i]!);
        rule.conditions.push(`${not}${w}${values.length ? ' ' + values.join(' ') : ''}`);
      }
    }
  }
  return undefined;
}

/** Target extensions that are not chains (a jump to them does not go to a user chain). */
const BUILTIN_OR_EXTENSION = new Set(['LOG', 'MASQUERADE', 'DNAT', 'SNAT', 'REDIRECT', 'MARK', 'CONNMARK', 'TCPMSS', 'CT', 'NOTRACK', 'TRACE', 'ULOG', 'NFLOG', 'CHECKSUM', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HL', 'SET', 'AUDIT', 'TEE']);

/**
 * Rules and built-in chain policies of `iptables-save` / `ip6tables-save` output (`family` ip or ip6).
 * Only the filter table unless `allTables`. Lines that cannot be read are skipped with a warning.
 */
export function parseIptablesSave(text: string, family: 'ip' | 'ip6', allTables = false): ParsedRuleset {
  const rules: FirewallRule[] = [];
  const warnings: string[] = [];
  let table: string | undefined;
  let policies = new Map<string, string>();
  let counts = new Map<string, number>();
  const flush = (): void => {
    if (table === undefined || !(allTables || table === 'filter')) return;
    for (const [chain, policy] of policies) {
      rules.push({ family, table, chain, hook: BUILTIN_HOOKS[chain], priority: (counts.get(chain) ?? 0) + 1, isPolicy: true, verdict: VERDICTS[policy] ?? policy.toLowerCase(), conditions: [], unparsed: [] });
    }
  };
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const lineNo = index + 1;
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      flush();
      table = line.slice(1).trim();
      policies = new Map();
      counts = new Map();
      return;
    }
    if (line === 'COMMIT') {
      flush();
      table = undefined;
      return;
    }
    if (table === undefined) {
      warnings.push(`line ${lineNo}: outside a *table section, skipped`);
      return;
    }
    if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)/.exec(line);
      if (!m) {
        warnings.push(`line ${lineNo}: unreadable chain declaration, skipped`);
        return;
      }
      counts.set(m[1]!, counts.get(m[1]!) ?? 0);
      if (m[2] !== '-') policies.set(m[1]!, m[2]!);
      return;
    }
    const append = /^(?:-A|--append)\s+(\S+)/.exec(line);
    if (!append) {
      warnings.push(`line ${lineNo}: not a rule, skipped`);
      return;
    }
    if (!(allTables || table === 'filter')) return;
    const chain = append[1]!;
    const priority = (counts.get(chain) ?? 0) + 1;
    // The position counts even for a rule that cannot be read, so priorities stay true to the chain.
    counts.set(chain, priority);
    const words = splitWords(line);
    if (!words) {
      warnings.push(`line ${lineNo}: unbalanced quotes, rule skipped`);
      return;
    }
    const rule: FirewallRule = { family, table, chain, hook: BUILTIN_HOOKS[chain], priority, isPolicy: false, verdict: 'none', conditions: [], unparsed: [] };
    const problem = applyWords(rule, words.slice(2));
    if (problem) {
      warnings.push(`line ${lineNo}: ${problem}, rule skipped`);
      return;
    }
    rules.push(rule);
  });
  if (table !== undefined) {
    warnings.push(`table ${table} has no COMMIT line (output cut short?)`);
    flush();
  }
  return { rules, warnings };
}
