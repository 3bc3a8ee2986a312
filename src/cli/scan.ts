import path from 'node:path';
import { describeReadError, readRegularText } from '../core/safe-read';
import { escapeControl } from '../core/text-escape';
import { SEVERITIES, severityRank, type Severity } from '../rules/finding';
import { parseRuleOverridesText, RuleConfigError, type RuleOverrides } from '../rules/overrides';
import { expandGlob, hasGlob } from '../core/glob';
import { closeSync, openSync, writeSync } from 'node:fs';
import { jsonReport } from './report-json';
import { sarifReport } from './report-sarif';
import { writeChunks } from './report-stream';
import { textReport } from './report-text';
import { MAX_MANIFEST_BYTES, scanFile, type ScannedFile } from './scan-files';
import { agentVersion } from '../core/version';

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

export interface CliIO {
  readonly cwd: string;
  /** False when the text was queued rather than written (a full pipe): see stdoutDrained. */
  readonly stdout: (text: string) => boolean | void;
  /** Resolves when standard output can take more after stdout returned false. */
  readonly stdoutDrained?: () => Promise<void>;
  readonly stderr: (text: string) => void;
  readonly stdoutIsTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
}

export const SCAN_HELP = `Usage: edgeguard scan <file|glob>... [options]

Checks IoT Edge deployment manifests (deployment.json, deployment.template.json, layered
deployments, deployed manifests with chunked createOptions) for risky settings.

Options:
  --format <text|json|sarif>   Output format (default: text)
  --output <file>              Write the report to a file instead of standard output
  --fail-on <severity>         Exit 1 when a finding at or above this severity exists:
                               critical, high, medium, low, info, or none (default: none)
  --min-severity <severity>    Leave out findings below this severity (default: info)
  --config <file>              Rule settings (YAML or JSON): switch rules off or re-grade them,
                               everywhere or per module
  --verbose                    Text output: show the remediation of each finding
  --color / --no-color         Force colours on or off (default: on when standard output is a terminal)
  -h, --help                   Show this help

Exit codes: 0 no finding at or above --fail-on, 1 such a finding exists, 2 usage error or a file
that cannot be read or parsed.
Globs: * ? [abc] and ** (any depth); quote them so the shell does not expand them.
`;

interface ScanArgs {
  patterns: string[];
  format: 'text' | 'json' | 'sarif';
  output?: string;
  failOn?: Severity;
  minSeverity: Severity;
  config?: string;
  verbose: boolean;
  colour?: boolean;
  help: boolean;
}

class UsageError extends Error {}

function parseSeverity(value: string | undefined, option: string, allowNone: boolean): Severity | undefined {
  if (value === undefined) throw new UsageError(`${option} needs a value`);
  if (allowNone && value.toLowerCase() === 'none') return undefined;
  const match = SEVERITIES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!match) throw new UsageError(`${option}: "${value}" is not one of ${SEVERITIES.map((s) => s.toLowerCase()).join(', ')}${allowNone ? ', none' : ''}`);
  return match;
}

export function parseScanArgs(argv: readonly string[]): ScanArgs {
  const args: ScanArgs = { patterns: [], format: 'text', minSeverity: 'Info', verbose: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const name = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string | undefined => (eq > 0 ? raw.slice(eq + 1) : argv[++i]);
    switch (name) {
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '--format': {
        const v = value();
        if (v !== 'text' && v !== 'json' && v !== 'sarif') throw new UsageError(`--format: expected text, json or sarif`);
        args.format = v;
        break;
      }
      case '--output':
      case '-o': {
        const v = value();
        if (!v) throw new UsageError(`${name} needs a file name`);
        args.output = v;
        break;
      }
      case '--fail-on':
        args.failOn = parseSeverity(value(), '--fail-on', true);
        break;
      case '--min-severity':
        args.minSeverity = parseSeverity(value(), '--min-severity', false) ?? 'Info';
        break;
      case '--config': {
        const v = value();
        if (!v) throw new UsageError('--config needs a file name');
        args.config = v;
        break;
      }
      case '--verbose':
      case '-v':
        args.verbose = true;
        break;
      case '--color':
      case '--colour':
        args.colour = true;
        break;
      case '--no-color':
      case '--no-colour':
        args.colour = false;
        break;
      case '--':
        args.patterns.push(...argv.slice(i + 1));
        i = argv.length;
        break;
      default:
        if (raw.startsWith('-') && raw !== '-') throw new UsageError(`unknown option ${raw}`);
        args.patterns.push(raw);
    }
  }
  return args;
}

/** Rule settings are a few lines; a megabyte is far beyond any real one. */
const MAX_RULE_SETTINGS_BYTES = 1024 * 1024;

function loadOverrides(file: string, cwd: string): RuleOverrides {
  let text: string;
  try {
    text = readRegularText(path.resolve(cwd, file), Math.min(MAX_RULE_SETTINGS_BYTES, MAX_MANIFEST_BYTES));
  } catch (error) {
    throw new UsageError(`--config ${file}: ${describeReadError(error)}`);
  }
  try {
    return parseRuleOverridesText(text);
  } catch (error) {
    if (error instanceof RuleConfigError) throw new UsageError(`--config ${file}: ${error.message}`);
    throw error;
  }
}

export function toolVersion(): string {
  return agentVersion();
}

/** Writes all of `text` (writeSync may write less than asked). */
function writeAll(fd: number, text: string): void {
  let data = Buffer.from(text);
  while (data.length > 0) data = data.subarray(writeSync(fd, data));
}

/** `edgeguard scan …`: resolves to the exit code; writes the report and errors through `io`. */
export async function runScan(argv: readonly string[], io: CliIO): Promise<number> {
  // Every line to stderr names input (file names, patterns, option values): no control characters.
  const stderr = (text: string): void => io.stderr(`${escapeControl(text)}\n`);
  let args: ScanArgs;
  let overrides: RuleOverrides | undefined;
  try {
    args = parseScanArgs(argv);
    if (args.help) {
      io.stdout(SCAN_HELP);
      return EXIT_OK;
    }
    if (args.patterns.length === 0) throw new UsageError('no manifest given (edgeguard scan deployment.template.json)');
    if (args.config) overrides = loadOverrides(args.config, io.cwd);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr(`edgeguard scan: ${error.message}`);
    io.stderr('Run "edgeguard scan --help" for usage.\n');
    return EXIT_USAGE;
  }

  const files: string[] = [];
  const unmatched: string[] = [];
  const incomplete: string[] = [];
  for (const pattern of args.patterns) {
    if (!hasGlob(pattern)) files.push(pattern);
    else {
      const found = await expandGlob(pattern, io.cwd);
      if (found.incomplete) incomplete.push(`${pattern}: ${found.incomplete} (symbolic-link loop or very large tree): the file list is incomplete`);
      else if (found.files.length === 0) unmatched.push(pattern);
      files.push(...found.files);
    }
  }
  const seen = new Set<string>();
  const scanned: ScannedFile[] = [];
  for (const file of files) {
    const key = path.resolve(io.cwd, file);
    if (seen.has(key)) continue;
    seen.add(key);
    const result = scanFile(file, io.cwd, overrides);
    const minRank = severityRank(args.minSeverity);
    scanned.push({ ...result, findings: result.findings.filter((f) => severityRank(f.severity) <= minRank) });
  }
  for (const pattern of unmatched) stderr(`edgeguard scan: ${pattern}: no file matches`);
  for (const problem of incomplete) stderr(`edgeguard scan: ${problem}`);
  for (const f of scanned) if (f.error) stderr(`edgeguard scan: ${f.file}${f.error.line ? `:${f.error.line}:${f.error.column}` : ''}: ${f.error.message}`);

  const version = toolVersion();
  const colour = args.colour ?? (io.stdoutIsTTY && !io.env.NO_COLOR && !args.output);
  const report =
    args.format === 'json' ? jsonReport(scanned, version) : args.format === 'sarif' ? sarifReport(scanned, version, io.cwd) : textReport(scanned, { colour, verbose: args.verbose });
  if (args.output) {
    let fd: number | undefined;
    try {
      fd = openSync(path.resolve(io.cwd, args.output), 'w');
      const out = fd;
      await writeChunks(report, (text) => writeAll(out, text));
    } catch (error) {
      stderr(`edgeguard scan: --output ${args.output}: cannot write (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return EXIT_USAGE;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  } else await writeChunks(report, io.stdout, io.stdoutDrained);

  if (unmatched.length > 0 || incomplete.length > 0 || scanned.some((f) => f.error) || scanned.length === 0) return EXIT_USAGE;
  if (args.failOn) {
    const limit = severityRank(args.failOn);
    if (scanned.some((f) => f.findings.some((x) => severityRank(x.severity) <= limit))) return EXIT_FINDINGS;
  }
  return EXIT_OK;
}
