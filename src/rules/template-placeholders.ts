/**
 * `${VAR}` placeholders of a deployment template, optionally inside quotes, replaced by `replacement`
 * (what `/"?\$\{[^}]*\}"?/g` did). Hand-written: that regex rescans the rest of the text from every
 * `${` without a closing `}` (quadratic: 300 KB of `${` took 49 s); this scan is linear.
 */
export function replaceTemplatePlaceholders(text: string, replacement: string): string {
  const parts: string[] = [];
  let copied = 0;
  let from = 0;
  // The first `}` at or after a position; once none is left, no `${` can close any more.
  let close = text.indexOf('}');
  for (;;) {
    const open = text.indexOf('${', from);
    if (open < 0 || close < 0) break;
    if (close < open + 2) close = text.indexOf('}', open + 2);
    if (close < 0) break;
    const start = open > copied && text[open - 1] === '"' ? open - 1 : open;
    const end = text[close + 1] === '"' ? close + 2 : close + 1;
    parts.push(text.slice(copied, start), replacement);
    copied = end;
    from = end;
    if (close < from) close = text.indexOf('}', from);
  }
  parts.push(text.slice(copied));
  return parts.join('');
}
