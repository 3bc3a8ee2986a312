import { parseCidr } from './cidr';
import { compileGlob, type StringMatcher } from './glob';
import { containerId, type EventView } from './fields';

export const EXCEPTION_KINDS = ['process', 'container', 'image', 'user', 'address'] as const;
type Kind = (typeof EXCEPTION_KINDS)[number];

export interface RuleException {
  readonly text: string;
  readonly rule: StringMatcher;
  readonly kind: Kind;
  readonly matches: StringMatcher;
}

/**
 * Parses one exception, "RULE:kind=pattern": RULE is a rule ID or a glob over IDs (`*` for all), kind
 * is process (Executable), container (container or module name), image, user (UserName) or address
 * (RemoteAddress: a glob, or a CIDR network such as 10.0.0.0/8). Throws with the reason.
 */
export function parseException(text: string): RuleException {
  const m = /^([^:=\s]+):(process|container|image|user|address)=(.+)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not RULE:kind=pattern (kinds: ${EXCEPTION_KINDS.join(', ')})`);
  const kind = m[2] as Kind;
  const pattern = m[3]!;
  let matches: StringMatcher;
  if (kind === 'address' && pattern.includes('/')) {
    const net = parseCidr([pattern]);
    matches = (v) => net(v);
  } else matches = compileGlob(pattern);
  return { text, rule: compileGlob(m[1]!), kind, matches };
}

function values(kind: Kind, v: EventView): Array<string | undefined> {
  const item = v.item;
  const s = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
  switch (kind) {
    case 'process':
      return [s(item.Executable)];
    case 'container':
      return [s(item.ContainerName) ?? v.container?.name, s(item.ModuleName) ?? v.container?.module, containerId(v)];
    case 'image':
      return [s(item.Image) ?? s(item.ImageName) ?? v.container?.image];
    case 'user':
      return [s(item.UserName) ?? s(item.User)];
    case 'address':
      return [s(item.RemoteAddress) ?? s(item.DestinationAddress)];
  }
}

export function isExcepted(exceptions: readonly RuleException[], ruleId: string, view: EventView): boolean {
  for (const ex of exceptions) {
    if (!ex.rule(ruleId)) continue;
    for (const value of values(ex.kind, view)) if (value !== undefined && ex.matches(value)) return true;
  }
  return false;
}
