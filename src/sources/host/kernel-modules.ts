import { compareCodeUnits } from '../../core/compare-text';
import path from 'node:path';
import type { SettingDefinition } from '../../config/settings';
import { createEvent } from '../../core/event';
import { SourceUnavailableError, type Source, type SourceContext, type SourceDefinition } from '../source';
import { kernelModulePayload, parseProcModules, type KernelModule } from './kernel/proc-modules';
import { resolveProcRoot } from './common/process-info';
import { rateLimitedWarning } from '../../core/rate-limited-log';
import { defineEventType } from '../../core/event-types';
import { readRegularPrefix } from '../../core/safe-read';

export const KERNEL_MODULES = defineEventType({ name: 'KernelModules', category: 'Periodic', defaultPriority: 'Low', schema: 'own' });
export const KERNEL_MODULE_LOAD = defineEventType({ name: 'KernelModuleLoad', category: 'Triggered', defaultPriority: 'High', schema: 'own' });

export const KERNEL_MODULES_METHOD = '/proc/modules polling';

const SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'kernelModulesPollInterval',
    type: 'duration',
    default: 'PT2S',
    description: 'Interval between two reads of /proc/modules to detect newly loaded kernel modules (KernelModuleLoad). A module loaded and unloaded between two reads is not seen. Short enough for the kernel-module alerts to go upstream within 5 s.',
  },
];

/** /proc/modules can be read whole; a cap keeps a hostile or broken file from costing memory. */
const MAX_MODULES_FILE_BYTES = 4 * 1024 * 1024;

export interface KernelModulesSource extends Source {
  /** Runs one load check now (tests and benchmarks; the timer keeps running). */
  pollNow(): void;
}

export const kernelModulesSource: SourceDefinition = {
  name: 'KernelModules',
  description: 'snapshot of loaded kernel modules (KernelModules) and an event for each module loaded while running (KernelModuleLoad), from /proc/modules',
  events: [KERNEL_MODULES, KERNEL_MODULE_LOAD],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<KernelModulesSource> {
    const file = path.join(resolveProcRoot(ctx.hostRoot), 'modules');
    const warn = rateLimitedWarning(ctx.log);
    /** The loaded modules; undefined when unreadable, or when `changed` says the text is as last time. */
    const read = (changed?: (text: string) => boolean): KernelModule[] | undefined => {
      let text: string;
      try {
        text = readRegularPrefix(file, MAX_MODULES_FILE_BYTES).toString('latin1');
      } catch (err) {
        warn('kernel module list not readable', { file, error: err });
        return undefined;
      }
      if (changed && !changed(text)) return undefined;
      const parsed = parseProcModules(text);
      if (parsed.malformedLines > 0) warn('malformed lines in the kernel module list skipped', { file, lines: parsed.malformedLines });
      return parsed.modules;
    };
    try {
      readRegularPrefix(file, MAX_MODULES_FILE_BYTES);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SourceUnavailableError(
        code === 'ENOENT'
          ? `${file} does not exist: the kernel has no loadable module support (or the host's /proc is not mounted)`
          : `${file} not readable (${code ?? String(err)})`,
      );
    }

    // Names of the modules loaded at the last read; the first read only learns.
    let known = new Set((read() ?? []).map((m) => m.name));
    // The file as last parsed: most polls find it unchanged, and then there is nothing to parse.
    let lastText: string | undefined;
    const poll = (): void => {
      try {
        const modules = read((text) => {
          if (text === lastText) return false;
          lastText = text;
          return true;
        });
        if (!modules) return;
        const loaded = modules.filter((m) => !known.has(m.name));
        known = new Set(modules.map((m) => m.name));
        if (loaded.length === 0) return;
        for (const m of loaded) ctx.emit(createEvent('KernelModuleLoad', 'Triggered', [kernelModulePayload(m)]));
      } catch (err) {
        ctx.log.error('kernel module poll failed', { file, error: err });
      }
    };
    const timer = setInterval(poll, ctx.config.durationMs('kernelModulesPollInterval'));
    ctx.setStatus({ state: 'running', method: `${KERNEL_MODULES_METHOD}: ${file}` });
    return {
      pollNow: poll,
      async snapshot() {
        const modules = read();
        if (!modules) return;
        const sorted = [...modules].sort((a, b) => compareCodeUnits(a.name, b.name));
        ctx.emit(createEvent('KernelModules', 'Periodic', sorted.map(kernelModulePayload)));
      },
      async stop() {
        clearInterval(timer);
      },
    };
  },
};
