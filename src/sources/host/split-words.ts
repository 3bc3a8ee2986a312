/**
 * Splits a command line into words as iptables-save and systemd ExecStart= write them: double quotes
 * group, a backslash escapes the next character. Undefined on an unbalanced quote.
 */
export function splitWords(line: string): string[] | undefined {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quoted) return undefined;
  if (inWord) words.push(current);
  return words;
}
