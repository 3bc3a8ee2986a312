/**
 * Reports written piece by piece: a report on a large manifest is many times its size (a 4 MB
 * manifest gives 50 MB of JSON and 130 MB of SARIF), so it is never held whole in memory.
 */

/** An array of a report produced one item at a time while it is written. */
export class StreamedArray {
  constructor(readonly items: () => Iterable<unknown>) {}
}

/** `items.map(build)`, one item at a time. */
export function* mapLazily<T, U>(items: Iterable<T>, build: (item: T) => U): Generator<U> {
  for (const item of items) yield build(item);
}

const pads: string[] = [];
function pad(level: number): string {
  return (pads[level] ??= '  '.repeat(level));
}

/**
 * The text of `JSON.stringify(value, null, 2)`, in pieces, with StreamedArray values expanded item
 * by item. `level` is the nesting of `value` (for its indentation). A StreamedArray is found as the
 * direct value of an object or as an item of another StreamedArray (not inside a plain array).
 */
export function* jsonChunks(value: unknown, level = 0): Generator<string> {
  if (value instanceof StreamedArray) {
    let n = 0;
    for (const item of value.items()) {
      yield `${n++ === 0 ? '[' : ','}\n${pad(level + 1)}`;
      yield* jsonChunks(item, level + 1);
    }
    yield n === 0 ? '[]' : `\n${pad(level)}]`;
    return;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).some((v) => v instanceof StreamedArray)) {
    let n = 0;
    for (const [key, v] of Object.entries(value)) {
      if (v === undefined) continue;
      yield `${n++ === 0 ? '{' : ','}\n${pad(level + 1)}${JSON.stringify(key)}: `;
      yield* jsonChunks(v, level + 1);
    }
    yield n === 0 ? '{}' : `\n${pad(level)}}`;
    return;
  }
  // JSON text holds no raw line break (they are escaped in strings): indenting every line is exact.
  const text = JSON.stringify(value, null, 2);
  yield level === 0 ? text : text.replace(/\n/g, `\n${pad(level)}`);
}

/**
 * Pieces joined into writes of about `size` characters (one write per finding would be a system
 * call each). When `write` returns false (a pipe's buffer is full) the next write waits for
 * `drained`: a slow reader must not make the whole report pile up in memory.
 */
export async function writeChunks(
  chunks: Iterable<string>,
  write: (text: string) => boolean | void,
  drained?: () => Promise<void>,
  size = 64 * 1024,
): Promise<void> {
  let buffer = '';
  for (const chunk of chunks) {
    buffer += chunk;
    if (buffer.length >= size) {
      const more = write(buffer);
      buffer = '';
      if (more === false && drained) await drained();
    }
  }
  if (buffer) write(buffer);
}
