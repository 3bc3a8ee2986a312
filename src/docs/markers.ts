/** `text` with what lies between `begin` and `end` replaced by `content` (markers kept); throws when they are missing. */
export function replaceBetween(text: string, begin: string, end: string, content: string, what: string): string {
  const start = text.indexOf(begin);
  const stop = text.indexOf(end, start + begin.length);
  if (start < 0 || stop < 0) throw new Error(`${what}: markers ${begin} … ${end} not found`);
  return `${text.slice(0, start + begin.length)}\n${content}\n${text.slice(stop)}`;
}

/** A markdown table cell: pipes escaped, one line. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
