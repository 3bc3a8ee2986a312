/**
 * The condition language of detection rules (Falco's, trimmed): comparisons of event fields with
 * values, `in` lists, string operators, `exists`, macros by name, `and` / `or` / `not` and
 * parentheses. This file only parses; compile.ts turns the tree into predicates.
 *
 *   Executable endswith /nc and CommandLine contains (" -e ", " -c ") and not parent_is_trusted
 *   ExtraDetails.StdinType in (tcp, udp) and ExecutableName in (shell_binaries)
 *
 * Values are quoted ("..." or '...', backslash escapes the next character) or bare words (no spaces,
 * parentheses, commas or quotes). Inside a parenthesised value list, a bare word naming a list expands
 * to the list's items.
 */

export const COMPARISON_OPERATORS = ['=', '!=', '<', '<=', '>', '>='] as const;
export const STRING_OPERATORS = ['in', 'startswith', 'endswith', 'contains', 'glob', 'istartswith', 'iendswith', 'icontains', 'iglob', 'iin', 'cidr'] as const;
export type Operator = (typeof COMPARISON_OPERATORS)[number] | (typeof STRING_OPERATORS)[number];

/** A value as written: a literal, or a bare word that may name a list (resolved at compile time). */
export interface ValueToken {
  text: string;
  quoted: boolean;
}

export type ConditionNode =
  | { type: 'and' | 'or'; children: ConditionNode[] }
  | { type: 'not'; child: ConditionNode }
  | { type: 'macro'; name: string }
  | { type: 'exists'; field: string }
  | { type: 'compare'; field: string; op: Operator; values: ValueToken[]; list: boolean };

export class ConditionSyntaxError extends Error {}

type Token = { kind: 'lparen' | 'rparen' | 'comma' } | { kind: 'word'; text: string; quoted: boolean };

export const MAX_CONDITION_LENGTH = 16_384;
const MAX_DEPTH = 64;

function tokenize(text: string): Token[] {
  if (text.length > MAX_CONDITION_LENGTH) throw new ConditionSyntaxError(`condition longer than ${MAX_CONDITION_LENGTH} characters`);
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === '(') {
      tokens.push({ kind: 'lparen' });
      i++;
    } else if (c === ')') {
      tokens.push({ kind: 'rparen' });
      i++;
    } else if (c === ',') {
      tokens.push({ kind: 'comma' });
      i++;
    } else if (c === '"' || c === "'") {
      let out = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== c; j++) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        out += text[j];
      }
      if (j >= text.length) throw new ConditionSyntaxError(`unclosed ${c} at position ${i}`);
      tokens.push({ kind: 'word', text: out, quoted: true });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s(),"']/.test(text[j]!)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), quoted: false });
      i = j;
    }
  }
  return tokens;
}

const OPERATORS = new Set<string>([...COMPARISON_OPERATORS, ...STRING_OPERATORS]);
const FIELD = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$/;

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): ConditionNode {
    if (this.tokens.length === 0) throw new ConditionSyntaxError('empty condition');
    const node = this.or(0);
    if (this.pos < this.tokens.length) throw new ConditionSyntaxError(`unexpected ${this.describe(this.tokens[this.pos]!)} after a complete condition`);
    return node;
  }

  private describe(t: Token | undefined): string {
    if (t === undefined) return 'end of condition';
    return t.kind === 'word' ? `"${t.text}"` : t.kind === 'lparen' ? '"("' : t.kind === 'rparen' ? '")"' : '","';
  }

  private isKeyword(word: string): boolean {
    const t = this.tokens[this.pos];
    return t !== undefined && t.kind === 'word' && !t.quoted && t.text === word;
  }

  private or(depth: number): ConditionNode {
    const children = [this.and(depth)];
    while (this.isKeyword('or')) {
      this.pos++;
      children.push(this.and(depth));
    }
    return children.length === 1 ? children[0]! : { type: 'or', children };
  }

  private and(depth: number): ConditionNode {
    const children = [this.not(depth)];
    while (this.isKeyword('and')) {
      this.pos++;
      children.push(this.not(depth));
    }
    return children.length === 1 ? children[0]! : { type: 'and', children };
  }

  private not(depth: number): ConditionNode {
    if (depth > MAX_DEPTH) throw new ConditionSyntaxError(`condition nested deeper than ${MAX_DEPTH}`);
    if (this.isKeyword('not')) {
      this.pos++;
      return { type: 'not', child: this.not(depth + 1) };
    }
    return this.primary(depth);
  }

  private primary(depth: number): ConditionNode {
    const t = this.tokens[this.pos];
    if (t === undefined) throw new ConditionSyntaxError('condition ends where a comparison was expected');
    if (t.kind === 'lparen') {
      this.pos++;
      const node = this.or(depth + 1);
      if (this.tokens[this.pos]?.kind !== 'rparen') throw new ConditionSyntaxError(`expected ")" but found ${this.describe(this.tokens[this.pos])}`);
      this.pos++;
      return node;
    }
    if (t.kind !== 'word' || t.quoted) throw new ConditionSyntaxError(`expected a field or macro name but found ${this.describe(t)}`);
    this.pos++;
    const next = this.tokens[this.pos];
    const operator = next?.kind === 'word' && !next.quoted && (OPERATORS.has(next.text) || next.text === 'exists') ? next.text : undefined;
    if (operator === undefined) {
      if (!/^[a-z_][a-z0-9_]*$/.test(t.text)) throw new ConditionSyntaxError(`"${t.text}" is followed by no operator (fields need one; macro names are lower_snake_case)`);
      return { type: 'macro', name: t.text };
    }
    if (!FIELD.test(t.text)) throw new ConditionSyntaxError(`"${t.text}" is not a field name`);
    this.pos++;
    if (operator === 'exists') return { type: 'exists', field: t.text };
    const op = operator as Operator;
    if (this.tokens[this.pos]?.kind === 'lparen') {
      this.pos++;
      const values: ValueToken[] = [];
      for (;;) {
        const v = this.tokens[this.pos];
        if (v?.kind !== 'word') throw new ConditionSyntaxError(`expected a value in the list after ${t.text} ${op} but found ${this.describe(v)}`);
        values.push({ text: v.text, quoted: v.quoted });
        this.pos++;
        const sep = this.tokens[this.pos];
        if (sep?.kind === 'comma') this.pos++;
        else if (sep?.kind === 'rparen') {
          this.pos++;
          break;
        } else throw new ConditionSyntaxError(`expected "," or ")" in the list after ${t.text} ${op} but found ${this.describe(sep)}`);
      }
      return { type: 'compare', field: t.text, op, values, list: true };
    }
    const v = this.tokens[this.pos];
    if (v?.kind !== 'word') throw new ConditionSyntaxError(`expected a value after ${t.text} ${op} but found ${this.describe(v)}`);
    this.pos++;
    return { type: 'compare', field: t.text, op, values: [{ text: v.text, quoted: v.quoted }], list: false };
  }
}

export function parseCondition(text: string): ConditionNode {
  return new Parser(tokenize(text)).parse();
}
