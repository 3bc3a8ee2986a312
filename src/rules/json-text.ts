import type { Segment } from './json-path';

export interface TextPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units as editors and SARIF count them. */
  column: number;
}

/** Invalid JSON: where, and what was expected. The message never quotes the input (it may hold a secret). */
export class JsonSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(`invalid JSON at line ${line}, column ${column}: ${reason}`);
    this.name = 'JsonSyntaxError';
  }
}

export interface ParsedJson {
  readonly value: unknown;
  /**
   * Where each item's path starts in the text: its key (objects) or value (array items, root); the
   * longest prefix of the path found in the text when the path goes further (settings inside a
   * createOptions string resolve to the createOptions line). One pass over the text for all items;
   * `use` is not called for an item without a path.
   */
  locateEach<T>(items: readonly T[], pathOf: (item: T) => readonly Segment[] | undefined, use: (item: T, line: number, column: number) => void): void;
}

export interface ParseOptions {
  /** Accept `//` and `/* *\/` comments as white space. */
  comments?: boolean;
}

const MAX_DEPTH = 512;
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 0-based index of the line holding `offset`. */
function lineIndex(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function positionOf(starts: readonly number[], offset: number): TextPosition {
  const line = lineIndex(starts, offset);
  return { line: line + 1, column: offset - starts[line]! + 1 };
}

function describeChar(c: string | undefined): string {
  if (c === undefined) return 'end of input';
  return /^[{}[\]:,"'\/\\]$/.test(c) ? `'${c}'` : 'an unexpected character';
}

class Scanner {
  i = 0;

  constructor(
    protected readonly text: string,
    private readonly options: ParseOptions,
  ) {}

  fail(reason: string, at = this.i): never {
    const pos = positionOf(lineStarts(this.text), at);
    throw new JsonSyntaxError(reason, at, pos.line, pos.column);
  }

  skipSpace(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.i);
      if (c === 32 || c === 10 || c === 13 || c === 9) this.i++;
      else if (c === 47 && this.options.comments) {
        const next = t[this.i + 1];
        if (next === '/') {
          const end = t.indexOf('\n', this.i);
          this.i = end < 0 ? t.length : end + 1;
        } else if (next === '*') {
          const end = t.indexOf('*/', this.i + 2);
          if (end < 0) this.fail('unterminated comment');
          this.i = end + 2;
        } else return;
      } else return;
    }
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.skipSpace();
    const c = this.text[this.i];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(`expected a value, found ${describeChar(c)}`);
    }
  }

  literal<T>(word: string, result: T): T {
    if (!this.text.startsWith(word, this.i)) this.fail(`expected a value, found ${describeChar(this.text[this.i])}`);
    this.i += word.length;
    return result;
  }

  number(): number {
    NUMBER.lastIndex = this.i;
    const found = NUMBER.exec(this.text);
    if (!found || found[0] === '-') this.fail('malformed number');
    this.i += found[0].length;
    return Number(found[0]);
  }

  string(): string {
    const t = this.text;
    const start = this.i + 1;
    let j = start;
    for (;;) {
      const c = t.charCodeAt(j);
      if (Number.isNaN(c)) this.fail('unterminated string', this.i);
      if (c === 34) break;
      if (c === 92) {
        j += 2;
        continue;
      }
      if (c < 32) this.fail('control character in a string (escape it)', j);
      j++;
    }
    const raw = t.slice(start, j);
    this.i = j + 1;
    if (!raw.includes('\\')) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return this.fail('invalid escape sequence in a string', start - 1);
    }
  }

  object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] !== '"') this.fail(`expected a property name in double quotes, found ${describeChar(this.text[this.i])}`);
      const key = this.string();
      this.skipSpace();
      if (this.text[this.i] !== ':') this.fail(`expected ':' after a property name, found ${describeChar(this.text[this.i])}`);
      this.i++;
      const v = this.value(depth + 1);
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.skipSpace();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      this.fail(`expected ',' or '}' after a property value, found ${describeChar(c)}`);
    }
  }

  array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return out;
      }
      this.fail(`expected ',' or ']' after an array item, found ${describeChar(c)}`);
    }
  }
}

/** A step of the paths being located; `offset` is where its latest occurrence in the text starts. */
interface PathNode {
  readonly parent?: PathNode;
  /** An object key (string) or an array index (number): `'0'` and `0` are different steps. */
  readonly segment: Segment;
  /** A short list (most nodes have one child), a map once it grows. */
  children?: PathNode[] | Map<Segment, PathNode>;
  /** -1 until seen. */
  offset: number;
  /** The parent's `visits` when `offset` was recorded: below an earlier duplicate key, it is stale. */
  stamp: number;
  /** Occurrences seen: a duplicate key replaces what the earlier one held, as in the parsed value. */
  visits: number;
}

const LIST_CHILDREN = 8;

function childOf(node: PathNode, segment: Segment): PathNode | undefined {
  const children = node.children;
  if (children === undefined) return undefined;
  if (!Array.isArray(children)) return children.get(segment);
  for (const c of children) if (c.segment === segment) return c;
  return undefined;
}

function addChild(node: PathNode, segment: Segment): PathNode {
  const child: PathNode = { parent: node, segment, offset: -1, stamp: 0, visits: 0 };
  const children = node.children;
  if (children === undefined) node.children = [child];
  else if (!Array.isArray(children)) children.set(segment, child);
  else if (children.length < LIST_CHILDREN) children.push(child);
  else node.children = new Map([...children.map((c): [Segment, PathNode] => [c.segment, c]), [segment, child]]);
  return child;
}

/**
 * Finds where many paths start in a text already parsed, in one pass and without building values:
 * a trie of the wanted paths is followed through the text and every other value is skipped. This
 * replaces a map of key offsets per object and array of the document (130 MB for a 10 MB manifest).
 */
class Locator extends Scanner {
  private readonly root: PathNode = { segment: '$', offset: -1, stamp: 0, visits: 0 };

  add(path: readonly Segment[] | undefined): PathNode | undefined {
    if (!path) return undefined;
    let node = this.root;
    for (const segment of path) node = childOf(node, segment) ?? addChild(node, segment);
    return node;
  }

  run(): void {
    this.i = 0;
    this.skipSpace();
    this.root.visits = 1;
    this.visit(this.root);
  }

  /** The offset of the longest prefix of the node's path present in the text (as the parsed value holds it). */
  offsetOf(node: PathNode | undefined): number | undefined {
    const chain: PathNode[] = [];
    for (let n = node; n?.parent; n = n.parent) chain.push(n);
    let offset: number | undefined;
    let parent = this.root;
    for (let k = chain.length - 1; k >= 0; k--) {
      const n = chain[k]!;
      if (n.offset < 0 || n.stamp !== parent.visits) break;
      offset = n.offset;
      parent = n;
    }
    return offset;
  }

  private record(child: PathNode, parent: PathNode, offset: number): void {
    child.offset = offset;
    child.stamp = parent.visits;
    child.visits++;
  }

  /** At the start of a value: follows the wanted keys or items into it, skips the rest. */
  private visit(node: PathNode): void {
    const t = this.text;
    const c = t.charCodeAt(this.i);
    if (c === 123 && node.children) {
      this.i++;
      this.skipSpace();
      if (t.charCodeAt(this.i) === 125) {
        this.i++;
        return;
      }
      for (;;) {
        this.skipSpace();
        const keyOffset = this.i;
        const key = this.string();
        this.skipSpace();
        this.i++; // ':'
        this.skipSpace();
        const child = childOf(node, key);
        if (child) {
          this.record(child, node, keyOffset);
          this.visit(child);
        } else this.skipValue();
        this.skipSpace();
        if (t.charCodeAt(this.i++) === 125) return;
      }
    }
    if (c === 91 && node.children) {
      this.i++;
      this.skipSpace();
      if (t.charCodeAt(this.i) === 93) {
        this.i++;
        return;
      }
      for (let index = 0; ; index++) {
        this.skipSpace();
        const child = childOf(node, index);
        if (child) {
          this.record(child, node, this.i);
          this.visit(child);
        } else this.skipValue();
        this.skipSpace();
        if (t.charCodeAt(this.i++) === 93) return;
      }
    }
    this.skipValue();
  }

  /** Past one value of the (valid) text without building it. */
  private skipValue(): void {
    const t = this.text;
    let depth = 0;
    for (;;) {
      const c = t.charCodeAt(this.i);
      if (c === 34) this.skipString();
      else if (c === 123 || c === 91) {
        depth++;
        this.i++;
      } else if (c === 125 || c === 93) {
        depth--;
        this.i++;
      } else if (depth === 0) {
        // A number or literal: up to the next delimiter.
        while (this.i < t.length && !/[\s,\]}\/]/.test(t[this.i]!)) this.i++;
        return;
      } else this.i++;
      if (depth === 0) return;
      this.skipSpace();
    }
  }

  private skipString(): void {
    const t = this.text;
    let j = this.i + 1;
    for (;;) {
      const c = t.charCodeAt(j);
      if (c === 34 || Number.isNaN(c)) break;
      j += c === 92 ? 2 : 1;
    }
    this.i = j + 1;
  }
}

/**
 * Parses JSON (optionally with comments) and remembers where each key is, so findings can point at
 * a line. Throws JsonSyntaxError with line and column; never echoes the input.
 */
export function parseJsonText(input: string, options: ParseOptions = {}): ParsedJson {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const scanner = new Scanner(text, options);
  const value = scanner.value(0);
  scanner.skipSpace();
  if (scanner.i < text.length) scanner.fail(`unexpected ${describeChar(text[scanner.i])} after the end of the document`);
  return {
    value,
    locateEach(items, pathOf, use) {
      const locator = new Locator(text, options);
      const nodes = items.map((item) => locator.add(pathOf(item)));
      locator.run();
      const starts = lineStarts(text);
      const fallback = firstNonSpace(text);
      items.forEach((item, k) => {
        const node = nodes[k];
        if (!node) return;
        const offset = locator.offsetOf(node) ?? fallback;
        const line = lineIndex(starts, offset);
        use(item, line + 1, offset - starts[line]! + 1);
      });
    },
  };
}

function firstNonSpace(text: string): number {
  const m = /\S/.exec(text);
  return m ? m.index : 0;
}

/** JSON.parse speed, the scanner's safe error message on failure. */
export function parseJsonFast(text: string, options: ParseOptions = {}): unknown {
  if (!options.comments) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // fall through for a precise, non-echoing error
    }
  }
  return parseJsonText(text, { comments: options.comments }).value;
}
