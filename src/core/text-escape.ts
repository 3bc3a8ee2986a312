/**
 * Text from input (file names, module names, values from a manifest or a host file) shown to a person:
 * on a terminal, in a CI log, in a log line. Control characters would let that input move the
 * cursor, rewrite earlier lines, set the window title or hide text (ESC sequences, CR, the C1 CSI,
 * Unicode bidirectional overrides); they are shown as escapes instead.
 */

// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates and marks.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The text with every control character shown as an escape (`\x1b`, `\n`, `\u202e`). */
export function escapeControl(text: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

/** True when the text holds a character escapeControl would change. */
export function hasControl(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text);
}

/**
 * JSON text with the characters JSON.stringify leaves raw but terminals act on (DEL, C1, bidi
 * controls, U+2028/9) written as \u escapes: still the same JSON value.
 */
export function escapeJsonOutput(json: string): string {
  // C0 controls are already escaped by JSON.stringify; only the others remain.
  // eslint-disable-next-line no-control-regex
  return json.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most `max` characters of `text` (an ellipsis marks the cut), control characters escaped. */
export function bounded(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return escapeControl(cut);
}
