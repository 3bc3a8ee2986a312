import { compileGlob, GlobSyntaxError, type StringMatcher } from './glob';
import { parseCondition, ConditionSyntaxError, type ConditionNode, type Operator, type ValueToken } from './condition';
import { resolveField, type EventView, type FieldValue } from './fields';
import { parseCidr, type CidrMatcher } from './cidr';

export type Predicate = (view: EventView) => boolean;

/** Shared lists and macros, by name, as loaded from every rules file. */
export interface Definitions {
  lists: Map<string, readonly string[]>;
  macros: Map<string, string>;
}

export class CompileError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}

const MAX_LIST_ITEMS = 100_000;

function toText(value: FieldValue): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : String(value);
}

/** Applies `test` to a field value, any element of a multi-valued one; a missing field never matches. */
function anyOf(value: FieldValue, test: (text: string) => boolean): boolean {
  if (value === undefined) return false;
  if (typeof value === 'string') return test(value);
  if (Array.isArray(value)) {
    for (const v of value as readonly string[]) if (test(v)) return true;
    return false;
  }
  return test(toText(value as string | number | boolean)!);
}

/**
 * toLowerCase with a one-entry cache: the case-insensitive operators of consecutive rules lower the
 * same CommandLine of the same event again and again.
 */
let lastIn = '';
let lastOut = '';
function lower(text: string): string {
  if (text !== lastIn) {
    lastIn = text;
    lastOut = text.toLowerCase();
  }
  return lastOut;
}

class Compiler {
  private readonly macroStack: string[] = [];

  constructor(
    private readonly defs: Definitions,
    private readonly events: readonly string[],
  ) {}

  /** A list's items, lists inside lists expanded (cycles refused). */
  expandList(name: string, seen: Set<string> = new Set()): string[] {
    if (seen.has(name)) throw new CompileError(`list "${name}" includes itself`);
    seen.add(name);
    const items = this.defs.lists.get(name)!;
    const out: string[] = [];
    for (const item of items) {
      if (this.defs.lists.has(item) && item !== name) out.push(...this.expandList(item, seen));
      else out.push(item);
      if (out.length > MAX_LIST_ITEMS) throw new CompileError(`list "${name}" has more than ${MAX_LIST_ITEMS} items`);
    }
    seen.delete(name);
    return out;
  }

  private values(tokens: ValueToken[], list: boolean): string[] {
    const out: string[] = [];
    for (const t of tokens) {
      if (list && !t.quoted && this.defs.lists.has(t.text)) out.push(...this.expandList(t.text));
      else out.push(t.text);
    }
    return out;
  }

  compile(node: ConditionNode): Predicate {
    switch (node.type) {
      case 'and': {
        const parts = node.children.map((c) => this.compile(c));
        return (v) => {
          for (const p of parts) if (!p(v)) return false;
          return true;
        };
      }
      case 'or': {
        const parts = node.children.map((c) => this.compile(c));
        return (v) => {
          for (const p of parts) if (p(v)) return true;
          return false;
        };
      }
      case 'not': {
        const inner = this.compile(node.child);
        return (v) => !inner(v);
      }
      case 'macro': {
        const text = this.defs.macros.get(node.name);
        if (text === undefined) {
          throw new CompileError(this.defs.lists.has(node.name) ? `"${node.name}" is a list, used where a condition is expected` : `unknown macro "${node.name}"`);
        }
        if (this.macroStack.includes(node.name)) throw new CompileError(`macro "${node.name}" uses itself (${[...this.macroStack, node.name].join(' -> ')})`);
        this.macroStack.push(node.name);
        try {
          return this.compile(parseCondition(text));
        } catch (err) {
          if (err instanceof ConditionSyntaxError) throw new CompileError(`macro "${node.name}": ${err.message}`);
          throw err;
        } finally {
          this.macroStack.pop();
        }
      }
      case 'exists': {
        const get = this.field(node.field);
        return (v) => get(v) !== undefined;
      }
      case 'compare':
        return this.compare(node.field, node.op, this.values(node.values, node.list));
    }
  }

  private field(name: string): (view: EventView) => FieldValue {
    const accessor = resolveField(name, this.events);
    if (typeof accessor === 'string') throw new CompileError(accessor, name);
    return accessor;
  }

  private compare(fieldName: string, op: Operator, values: string[]): Predicate {
    const get = this.field(fieldName);
    // An empty list (an operator list left empty) matches nothing.
    if (values.length === 0) return () => false;
    switch (op) {
      case '=':
      case 'in': {
        if (values.length === 1) {
          const only = values[0]!;
          {
          const test = (t: string): boolean => t === only;
          return (v) => anyOf(get(v), test);
        }
        }
        const set = new Set(values);
        {
          const test = (t: string): boolean => set.has(t);
          return (v) => anyOf(get(v), test);
        }
      }
      case 'iin': {
        const set = new Set(values.map((x) => x.toLowerCase()));
        {
          const test = (t: string): boolean => set.has(lower(t));
          return (v) => anyOf(get(v), test);
        }
      }
      case '!=': {
        const set = new Set(values);
        const test = (t: string): boolean => set.has(t);
        return (v) => {
          const value = get(v);
          return value !== undefined && !anyOf(value, test);
        };
      }
      case '<':
      case '<=':
      case '>':
      case '>=': {
        if (values.length !== 1 || !/^-?\d+(\.\d+)?$/.test(values[0]!)) throw new CompileError(`${fieldName} ${op} needs one number, got ${values.join(', ')}`, fieldName);
        const bound = Number(values[0]);
        const cmp = op === '<' ? (n: number) => n < bound : op === '<=' ? (n: number) => n <= bound : op === '>' ? (n: number) => n > bound : (n: number) => n >= bound;
        const test = (t: string): boolean => {
          const n = Number(t);
          return t !== '' && Number.isFinite(n) && cmp(n);
        };
        return (v) => anyOf(get(v), test);
      }
      case 'startswith':
        {
          const test = (t: string): boolean => values.some((x) => t.startsWith(x));
          return (v) => anyOf(get(v), test);
        }
      case 'endswith':
        {
          const test = (t: string): boolean => values.some((x) => t.endsWith(x));
          return (v) => anyOf(get(v), test);
        }
      case 'contains':
        {
          const test = (t: string): boolean => values.some((x) => t.includes(x));
          return (v) => anyOf(get(v), test);
        }
      case 'istartswith': {
        const lowered = values.map((x) => x.toLowerCase());
        {
          const test = (t: string): boolean => { const l = lower(t); return lowered.some((x) => l.startsWith(x)); };
          return (v) => anyOf(get(v), test);
        }
      }
      case 'iendswith': {
        const lowered = values.map((x) => x.toLowerCase());
        {
          const test = (t: string): boolean => { const l = lower(t); return lowered.some((x) => l.endsWith(x)); };
          return (v) => anyOf(get(v), test);
        }
      }
      case 'icontains': {
        const lowered = values.map((x) => x.toLowerCase());
        const test = (t: string): boolean => {
          const l = lower(t);
          return lowered.some((x) => l.includes(x));
        };
        return (v) => anyOf(get(v), test);
      }
      case 'glob':
      case 'iglob': {
        let matchers: StringMatcher[];
        try {
          matchers = values.map((x) => compileGlob(x, op === 'iglob'));
        } catch (err) {
          if (err instanceof GlobSyntaxError) throw new CompileError(`${fieldName} ${op}: ${err.message}`, fieldName);
          throw err;
        }
        {
          const test = (t: string): boolean => matchers.some((m) => m(t));
          return (v) => anyOf(get(v), test);
        }
      }
      case 'cidr': {
        let nets: CidrMatcher;
        try {
          nets = parseCidr(values);
        } catch (err) {
          throw new CompileError(`${fieldName} cidr: ${(err as Error).message}`, fieldName);
        }
        {
          const test = (t: string): boolean => nets(t);
          return (v) => anyOf(get(v), test);
        }
      }
    }
  }
}

/** Compiles a condition for rules over `events`; throws CompileError (with the field) or ConditionSyntaxError. */
export function compileCondition(text: string, defs: Definitions, events: readonly string[]): Predicate {
  return new Compiler(defs, events).compile(parseCondition(text));
}

/** A list's items with nested lists expanded. */
export function expandList(name: string, defs: Definitions): string[] {
  return new Compiler(defs, []).expandList(name);
}
