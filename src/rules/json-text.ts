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
  /** Where a path's key (objects) or value (array items, root) starts; undefined when not in the text. */
  locate(path: readonly Segment[]): TextPosition | undefined;
}

export interface ParseOptions {
  /** Record the position of every key (for SARIF regions). */
  positions?: boolean;
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

export function positionOf(starts: readonly number[], offset: number): TextPosition {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

function describeChar(c: string | undefined): string {
  if (c === undefined) return 'end of input';
  return /^[{}[\]:,"'\/\\]$/.test(c) ? `'${c}'` : 'an unexpected character';
}

class Scanner {
  i = 0;
  /**
   * With `positions`: for each object and array built, where its keys (objects) or items (arrays)
   * start. locate() follows a path through the value and these maps, so no path is ever formatted.
   */
  readonly offsets = new Map<object, Map<Segment, number>>();

  constructor(
    private readonly text: string,
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

  /** The offsets map of a new object or array, when positions are recorded. */
  keyOffsets(container: object): Map<Segment, number> | undefined {
    if (!this.options.positions) return undefined;
    const map = new Map<Segment, number>();
    this.offsets.set(container, map);
    return map;
  }

  object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const keys = this.keyOffsets(out);
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] !== '"') this.fail(`expected a property name in double quotes, found ${describeChar(this.text[this.i])}`);
      const keyOffset = this.i;
      const key = this.string();
      this.skipSpace();
      if (this.text[this.i] !== ':') this.fail(`expected ':' after a property name, found ${describeChar(this.text[this.i])}`);
      this.i++;
      keys?.set(key, keyOffset);
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
    const items = this.keyOffsets(out);
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      items?.set(out.length, this.i);
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
  let starts: number[] | undefined;
  const offsets = scanner.offsets;
  return {
    value,
    locate(path) {
      // The longest prefix of the path that is in the text: settings inside a createOptions string
      // resolve to the createOptions line.
      let node: unknown = value;
      let offset: number | undefined;
      for (const segment of path) {
        const at = node !== null && typeof node === 'object' ? offsets.get(node)?.get(segment) : undefined;
        if (at === undefined) break;
        offset = at;
        node = (node as Record<Segment, unknown>)[segment];
      }
      starts ??= lineStarts(text);
      return positionOf(starts, offset ?? firstNonSpace(text));
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
