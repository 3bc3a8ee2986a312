import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths';

/** `COPY [--from=stage] src… dest` lines of the last stage. */
export function runtimeCopies(dockerfile: string): Array<{ from?: string; sources: string[]; dest: string }> {
  const text = readFileSync(path.join(repoRoot(), dockerfile), 'utf8').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1]!;
  return last
    .split('\n')
    .filter((line) => /^COPY\s/.test(line))
    .map((line) => {
      const words = line.trim().split(/\s+/).slice(1);
      const fromWord = words[0]?.startsWith('--from=') ? words.shift() : undefined;
      const dest = words.pop()!;
      return { from: fromWord?.slice('--from='.length), sources: words, dest };
    });
}
