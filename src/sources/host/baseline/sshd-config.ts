import path from 'node:path';

/** sshd's effective global settings, as sshd itself resolves them (first value wins). */
export interface SshdConfig {
  /** False when /etc/ssh/sshd_config does not exist (no OpenSSH server). */
  present: boolean;
  /** Lower-case keyword → its first value, from the global part of the configuration. */
  values: Map<string, string>;
  /** Files read, in order. */
  files: string[];
  /** Includes that matched nothing, unreadable includes, include loops. */
  warnings: string[];
}

export const SSHD_CONFIG = '/etc/ssh/sshd_config';
const MAX_INCLUDE_DEPTH = 16;

/** Matches a glob (*, ?) against a name; sshd's Include uses glob(3). */
function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  return re.test(name) && !(name.startsWith('.') && !pattern.startsWith('.'));
}

/** Files of an Include argument: relative to /etc/ssh, wildcards in the last component, sorted as glob(3) does. */
function expandInclude(arg: string, list: (dir: string) => string[]): string[] {
  const full = path.posix.isAbsolute(arg) ? arg : path.posix.join('/etc/ssh', arg);
  const dir = path.posix.dirname(full);
  const base = path.posix.basename(full);
  if (!/[*?]/.test(base)) return [full];
  return list(dir)
    .filter((name) => globMatch(base, name))
    .map((name) => path.posix.join(dir, name));
}

function splitLine(line: string): { keyword: string; args: string[] } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed);
  if (!m) return { keyword: trimmed.toLowerCase(), args: [] };
  const args = m[2]!.match(/"[^"]*"|\S+/g)?.map((a) => a.replace(/^"|"$/g, '')) ?? [];
  return { keyword: m[1]!.toLowerCase(), args };
}

/**
 * Reads sshd_config with its Include'd files. Lines inside a Match block (up to the end of the file
 * it starts in) apply only to some connections and are ignored: the checks judge the global setting.
 */
export function readSshdConfig(readText: (file: string) => string | undefined, list: (dir: string) => string[], mainFile = SSHD_CONFIG): SshdConfig {
  const config: SshdConfig = { present: false, values: new Map(), files: [], warnings: [] };
  const visit = (file: string, depth: number): void => {
    if (depth > MAX_INCLUDE_DEPTH) {
      config.warnings.push(`Include nesting deeper than ${MAX_INCLUDE_DEPTH} at ${file}`);
      return;
    }
    const text = readText(file);
    if (text === undefined) {
      if (depth > 0) config.warnings.push(`included file ${file} not found`);
      return;
    }
    if (depth === 0) config.present = true;
    config.files.push(file);
    let inMatch = false;
    for (const line of text.split('\n')) {
      const parsed = splitLine(line);
      if (!parsed) continue;
      if (parsed.keyword === 'match') {
        inMatch = true;
        continue;
      }
      if (inMatch) continue;
      if (parsed.keyword === 'include') {
        for (const arg of parsed.args) {
          const files = expandInclude(arg, list);
          if (files.length === 0 && !/[*?]/.test(arg)) config.warnings.push(`Include ${arg} matched nothing`);
          for (const f of files) visit(f, depth + 1);
        }
        continue;
      }
      if (!config.values.has(parsed.keyword)) config.values.set(parsed.keyword, parsed.args.join(' '));
    }
  };
  visit(mainFile, 0);
  return config;
}
