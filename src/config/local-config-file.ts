import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger';
import { readErrorCode, readRegularText, UnsafeFileError } from '../core/safe-read';
import { bounded, escapeControl } from '../core/text-escape';
import { loadYaml, YamlError } from '../core/yaml';
import { CONFIG_KEY } from './settings';

/** Wrapped settings as the twin holds them: `{ name: { value: X } }`. */
export type WrappedSettings = Record<string, unknown>;

export const DEFAULT_CONFIG_FILES = ['edgeguard.yaml', 'edgeguard.yml', 'edgeguard.json'];

/** A configuration file is a few kilobytes; anything near this is not one. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export class LocalConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalConfigError';
  }
}

/**
 * Which configuration file standalone mode reads: `--config <path>` (or `--config=<path>`), else
 * EDGEGUARD_CONFIG, else ./edgeguard.yaml (.yml, .json) when present, else none (defaults only).
 */
export function resolveConfigPath(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' && argv[i + 1]) return path.resolve(cwd, argv[i + 1]!);
    if (arg.startsWith('--config=')) return path.resolve(cwd, arg.slice('--config='.length));
  }
  if (env.EDGEGUARD_CONFIG) return path.resolve(cwd, env.EDGEGUARD_CONFIG);
  for (const name of DEFAULT_CONFIG_FILES) {
    const candidate = path.resolve(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The settings of a configuration file's text, wrapped as in the twin. The file holds the twin's
 * keys at its top level (or under the twin's CONFIG_KEY), each value either plain or `{value: X}`.
 * Throws LocalConfigError saying where the text is broken (never quoting it: it may hold secrets).
 */
export function parseLocalConfig(text: string, where = 'configuration file'): WrappedSettings {
  let parsed: unknown;
  try {
    // YAML is a superset of JSON: one parser for both.
    const onlyComments = text.split('\n').every((line) => /^\s*(#.*)?$/.test(line));
    parsed = onlyComments ? {} : loadYaml(text);
  } catch (error) {
    if (error instanceof YamlError) {
      const at = error.line !== undefined ? ` at line ${error.line}, column ${error.column ?? 1}` : '';
      throw new LocalConfigError(`${where}: not valid YAML or JSON${at}: ${bounded(error.message, 120)}`);
    }
    throw new LocalConfigError(`${where}: cannot be parsed`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isObject(parsed)) throw new LocalConfigError(`${where}: expected a mapping of setting names to values at the top level`);
  const section = isObject(parsed[CONFIG_KEY]) ? parsed[CONFIG_KEY] : parsed;
  const out: WrappedSettings = {};
  for (const [name, value] of Object.entries(section)) {
    if (name === CONFIG_KEY) continue;
    out[name] = isObject(value) && 'value' in value ? value : { value };
  }
  return out;
}

export interface LocalConfigFileOptions {
  log?: Logger;
  /** How often the file's mtime is checked. Default 1 s (one stat call). */
  pollIntervalMs?: number;
}

/**
 * The standalone configuration file, re-read when it changes so edits apply live. A broken or
 * vanished file is logged once and the previous settings stay in force.
 */
export class LocalConfigFile {
  private settings: WrappedSettings = {};
  private stamp = '';
  private timer?: NodeJS.Timeout;
  private lastProblem?: string;
  private readonly log?: Logger;
  private readonly pollIntervalMs: number;

  constructor(
    readonly file: string | undefined,
    options: LocalConfigFileOptions = {},
  ) {
    this.log = options.log;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /** The settings now in force (last good read). */
  current(): WrappedSettings {
    return this.settings;
  }

  /** The problem with the last read, if it failed. */
  problem(): string | undefined {
    return this.lastProblem;
  }

  /** Reads the file if it changed since the last read; true when the settings changed. */
  reload(): boolean {
    if (!this.file) return false;
    const shown = escapeControl(this.file);
    let stamp: string;
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (error) {
      this.report(`${shown}: cannot be read (${readErrorCode(error)}); keeping the previous configuration`);
      this.stamp = '';
      return false;
    }
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    let next: WrappedSettings;
    let changed: boolean;
    try {
      // Only a regular file, opened without blocking, at most MAX_CONFIG_FILE_BYTES read.
      next = parseLocalConfig(readRegularText(this.file, MAX_CONFIG_FILE_BYTES), shown);
      changed = JSON.stringify(next) !== JSON.stringify(this.settings);
    } catch (error) {
      const reason =
        error instanceof LocalConfigError ? error.message : error instanceof UnsafeFileError ? `${shown}: ${error.message}` : `${shown}: cannot be read (${readErrorCode(error)})`;
      this.report(`${reason}; keeping the previous configuration`);
      return false;
    }
    if (this.lastProblem) this.log?.info('configuration file readable again', { file: this.file });
    this.lastProblem = undefined;
    this.settings = next;
    if (changed) this.log?.info('configuration file loaded', { file: this.file, settings: Object.keys(next).length });
    return changed;
  }

  /** Polls the file; `listener` gets the settings after each change that parsed. */
  watch(listener: (settings: WrappedSettings) => void): void {
    this.stop();
    if (!this.file) return;
    this.timer = setInterval(() => {
      if (this.reload()) listener(this.settings);
    }, this.pollIntervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private report(problem: string): void {
    if (problem !== this.lastProblem) this.log?.error(problem);
    this.lastProblem = problem;
  }
}
