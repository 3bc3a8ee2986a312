import { escapeControl } from '../core/text-escape';
import { SEVERITIES, type Severity } from '../rules/finding';
import type { ScannedFile } from './scan-files';
import { BOLD, DIM, RESET, SEVERITY_COLOUR } from './severity-style';

export interface TextOptions {
  colour: boolean;
  verbose: boolean;
}

function countBySeverity(files: readonly ScannedFile[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of files) for (const x of f.findings) counts[x.severity]++;
  return counts;
}

function summary(counts: Record<Severity, number>): string {
  const total = SEVERITIES.reduce((n, s) => n + counts[s], 0);
  const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s.toLowerCase()}`);
  return `${total} finding${total === 1 ? '' : 's'}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/**
 * Grouped by file, then module; one line per finding, its JSON path under it. Everything that came
 * from input (file and module names, messages, paths) has its control characters escaped: a module
 * name must not be able to rewrite a CI log.
 */
export function formatText(files: readonly ScannedFile[], options: TextOptions): string {
  return [...textReport(files, options)].join('');
}

/** formatText in pieces, one line at a time. */
export function* textReport(files: readonly ScannedFile[], options: TextOptions): Generator<string> {
  const c = (code: string, text: string) => (options.colour ? `${code}${text}${RESET}` : text);
  const e = escapeControl;
  for (const file of files) {
    const name = e(file.file);
    if (file.error) {
      const where = file.error.line ? `:${file.error.line}:${file.error.column}` : '';
      yield `${c(BOLD, `${name}${where}`)}  ${c(SEVERITY_COLOUR.Critical, 'error')} ${e(file.error.message)}\n\n`;
      continue;
    }
    yield `${c(BOLD, name)}  ${summary(countBySeverity([file]))}\n`;
    const byModule = new Map<string, Array<(typeof file.findings)[number]>>();
    for (const f of file.findings) {
      const list = byModule.get(f.module);
      if (list) list.push(f);
      else byModule.set(f.module, [f]);
    }
    const modules = [...byModule.keys()].sort((a, b) => a.localeCompare(b));
    for (const module of modules) {
      yield `  ${c(BOLD, e(module))}\n`;
      for (const f of byModule.get(module)!) {
        const sev = c(SEVERITY_COLOUR[f.severity], f.severity.padEnd(8));
        const where = f.line ? `${name}:${f.line}:${f.column}` : name;
        yield `    ${sev} ${f.ruleId}  ${f.title}: ${e(f.message)}\n`;
        yield `    ${' '.repeat(8)} ${c(DIM, `${where}  ${e(f.path)}`)}\n`;
        if (options.verbose) yield `    ${' '.repeat(8)} ${c(DIM, `fix: ${f.remediation}`)}\n`;
      }
    }
    yield '\n';
  }
  const errors = files.filter((f) => f.error).length;
  yield `${files.length} file${files.length === 1 ? '' : 's'} scanned, ${summary(countBySeverity(files))}${errors ? `, ${errors} could not be read` : ''}\n`;
}
