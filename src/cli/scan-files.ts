import path from 'node:path';
import { describeReadError, readRegularText } from '../core/safe-read';
import { analyseDeployment, type Finding } from '../rules/index';
import { parsePath } from '../rules/json-path';
import { JsonSyntaxError, parseJsonText } from '../rules/json-text';
import type { RuleOverrides } from '../rules/overrides';

/** A finding with the place in the file it points at. */
export interface LocatedFinding extends Finding {
  readonly line?: number;
  readonly column?: number;
}

export interface InputError {
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export interface ScannedFile {
  /** As shown to the user and written into reports: relative to the working directory when inside it. */
  readonly file: string;
  readonly error?: InputError;
  readonly findings: LocatedFinding[];
}

/** Larger than any real deployment (IoT Hub caps a configuration at 512 KiB; 32 MiB leaves room for odd files). */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, path.resolve(cwd, file));
  return (rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(cwd, file)).split(path.sep).join('/');
}

/** Parses and analyses one manifest text; never throws. */
export function scanText(file: string, text: string, overrides?: RuleOverrides): ScannedFile {
  let parsed;
  try {
    parsed = parseJsonText(text, { comments: true });
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { file, error: { message: `invalid JSON: ${error.reason}`, line: error.line, column: error.column }, findings: [] };
    return { file, error: { message: `cannot parse: ${(error as Error).message}` }, findings: [] };
  }
  // Located in place: the findings are ours, and a copy of each doubled the peak for a large manifest.
  const findings: Array<Finding & { line?: number; column?: number }> = analyseDeployment(parsed.value, { overrides });
  parsed.locateEach(findings, (f) => parsePath(f.path), (f, line, column) => {
    f.line = line;
    f.column = column;
  });
  return { file, findings };
}

export function scanFile(file: string, cwd: string, overrides?: RuleOverrides): ScannedFile {
  const shown = displayPath(file, cwd);
  const absolute = path.resolve(cwd, file);
  let text: string;
  try {
    text = readRegularText(absolute, MAX_MANIFEST_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') return { file: shown, error: { message: 'is a directory (give files or a glob such as dir/**/*.json)' }, findings: [] };
    return { file: shown, error: { message: describeReadError(error) }, findings: [] };
  }
  return scanText(shown, text, overrides);
}
