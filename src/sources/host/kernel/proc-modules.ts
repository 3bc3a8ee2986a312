import type { PayloadItem } from '../../../core/event';

/** One line of /proc/modules. The load address is left out: sending it upstream would leak the kernel's layout (KASLR). */
export interface KernelModule {
  name: string;
  /** Memory size in bytes. */
  size: number;
  /** Use count; undefined when the kernel has no module unloading ("-"). */
  referenceCount?: number;
  /** Modules that use this one (the kernel's "used by" column, e.g. ext4 for jbd2). */
  usedBy: string[];
  /** Marked [permanent] by the kernel: it has no exit function and can never be unloaded. */
  permanent: boolean;
  state: 'Live' | 'Loading' | 'Unloading';
  /** Taint flags, e.g. "OE" (out-of-tree, unsigned); undefined when untainted. */
  taints?: string;
}

export interface ModulesParseResult {
  modules: KernelModule[];
  malformedLines: number;
}

const STATES = new Set(['Live', 'Loading', 'Unloading']);
/** "-", or "a,b," with kernel flags such as "[permanent]," among the names. */
const USED_BY = /^(-|(\[[a-z_]+\]|[A-Za-z0-9_-]+)(,(\[[a-z_]+\]|[A-Za-z0-9_-]+))*,?)$/;

/**
 * /proc/modules: `name size refcount used-by state address [(taints)]`, e.g.
 * `nf_tables 348160 1 nft_chain_nat, Live 0xffffffffc0a00000 (E)`. Garbage lines are counted and skipped.
 */
export function parseProcModules(text: string): ModulesParseResult {
  const modules: KernelModule[] = [];
  let malformedLines = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const [name, size, refs, usedBy, state] = f;
    const taintField = f[6];
    const valid =
      name !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(name) &&
      size !== undefined && /^\d{1,12}$/.test(size) &&
      refs !== undefined && /^(\d{1,10}|-)$/.test(refs) &&
      usedBy !== undefined && USED_BY.test(usedBy) &&
      state !== undefined && STATES.has(state) &&
      (f[5] === undefined || /^0x[0-9a-fA-F]+$/.test(f[5])) &&
      (taintField === undefined || /^\([A-Z]+\)$/.test(taintField)) &&
      f.length <= 7;
    if (!valid) {
      malformedLines++;
      continue;
    }
    const module: KernelModule = {
      name,
      size: Number(size),
      usedBy: usedBy === '-' ? [] : usedBy.split(',').filter((d) => d !== '' && !d.startsWith('[')),
      permanent: usedBy.includes('[permanent]'),
      state: state as KernelModule['state'],
    };
    if (refs !== '-') module.referenceCount = Number(refs);
    if (taintField !== undefined) module.taints = taintField.slice(1, -1);
    modules.push(module);
  }
  return { modules, malformedLines };
}

/** Payload item of KernelModules and KernelModuleLoad (schemas/events/KernelModules.json). */
export function kernelModulePayload(m: KernelModule): PayloadItem {
  const item: PayloadItem = { Name: m.name, Size: m.size, State: m.state, UsedBy: m.usedBy.join(';') };
  if (m.referenceCount !== undefined) item.ReferenceCount = m.referenceCount;
  if (m.taints !== undefined) item.Taints = m.taints;
  if (m.permanent) item.Permanent = true;
  return item;
}
