import { parseCondition, type ConditionNode } from './condition';
import { expandList, type Definitions } from './compile';

/** Fields a rule can be indexed by: cheap to compute once per event, and what most process rules test first. */
export const GATE_FIELDS = ['ExecutableName', 'Arg0Name'] as const;
export type GateField = (typeof GATE_FIELDS)[number];

/** The rule can only match when one of these holds: field value in the set. */
export type Gate = Array<{ field: GateField; values: readonly string[] }>;

function gateOf(node: ConditionNode, defs: Definitions, depth: number): Gate | undefined {
  if (depth > 32) return undefined;
  switch (node.type) {
    case 'compare':
      if ((node.op === '=' || node.op === 'in') && (GATE_FIELDS as readonly string[]).includes(node.field)) {
        const values = node.values.flatMap((v) => (node.list && !v.quoted && defs.lists.has(v.text) ? expandList(v.text, defs) : [v.text]));
        return [{ field: node.field as GateField, values }];
      }
      return undefined;
    case 'and':
      for (const child of node.children) {
        const g = gateOf(child, defs, depth + 1);
        if (g) return g;
      }
      return undefined;
    case 'or': {
      const out: Gate = [];
      for (const child of node.children) {
        const g = gateOf(child, defs, depth + 1);
        if (!g) return undefined;
        out.push(...g);
      }
      return out;
    }
    case 'macro': {
      const text = defs.macros.get(node.name);
      return text === undefined ? undefined : gateOf(parseCondition(text), defs, depth + 1);
    }
    default:
      return undefined;
  }
}

/**
 * A necessary condition of `condition` as value sets of ExecutableName / Arg0Name, or undefined when
 * there is none. The engine then evaluates the rule only for events whose names are in a set: an
 * optimisation that never changes a result (the full condition still decides).
 */
export function conditionGate(condition: string, defs: Definitions): Gate | undefined {
  try {
    return gateOf(parseCondition(condition), defs, 0);
  } catch {
    return undefined;
  }
}
