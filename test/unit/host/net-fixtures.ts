import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { defaultConfigView } from '../../../src/config/defaults';
import { type SettingValue } from '../../../src/config/settings';
import type { SecurityEvent } from '../../../src/core/event';
import type { Logger, LogDetails } from '../../../src/core/logger';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import type { SourceContext, SourceDefinition, SourceStatus } from '../../../src/sources/source';
import { referenceSchemaDir } from '../../harness/paths';
import { writeFakeProcess, type FakeProcess } from './process-fake-proc';
import { settingsCatalogue } from '../../../src/agent/catalogue';

/** Real kernel lines (captured on this machine: node listeners and loopback connections). */
export const TCP_HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     ';
export const TCP6_HEADER =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
export const UDP_HEADER = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            ';

/** One table row in the kernel's layout (little-endian hex addresses are given as the kernel prints them). */
export function row(sl: number, local: string, remote: string, state: number, uid: number, inode: number): string {
  const st = state.toString(16).toUpperCase().padStart(2, '0');
  return `${String(sl).padStart(4)}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 00000000ae68fa2e 100 0 0 10 0`;
}

/** Little-endian kernel hex of an IPv4 address and port, e.g. ("127.0.0.1", 80) -> "0100007F:0050". */
export function v4(address: string, port: number): string {
  const hex = address.split('.').map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0')).reverse().join('');
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A temp host root with proc/net tables and processes whose fd links point at socket inodes. */
export class FakeNetHost {
  readonly root: string;
  readonly proc: string;

  constructor() {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-nethost-'));
    this.proc = path.join(this.root, 'proc');
    mkdirSync(path.join(this.proc, 'net'), { recursive: true });
  }

  table(name: 'tcp' | 'tcp6' | 'udp' | 'udp6', lines: string[]): void {
    const header = name.startsWith('udp') ? UDP_HEADER : name.endsWith('6') ? TCP6_HEADER : TCP_HEADER;
    writeFileSync(path.join(this.proc, 'net', name), [header, ...lines, ''].join('\n'));
  }

  process(p: FakeProcess, socketInodes: number[], otherFds: string[] = ['/dev/null', 'pipe:[777]']): void {
    writeFakeProcess(this.proc, p);
    const fdDir = path.join(this.proc, String(p.pid), 'fd');
    mkdirSync(fdDir, { recursive: true });
    let fd = 0;
    for (const target of otherFds) symlinkSync(target, path.join(fdDir, String(fd++)));
    for (const inode of socketInodes) symlinkSync(`socket:[${inode}]`, path.join(fdDir, String(fd++)));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A Logger that records what it is given (to assert warnings), silent otherwise. */
export class RecordingLogger implements Logger {
  readonly entries: Array<{ level: string; message: string; details?: LogDetails }> = [];
  error = (message: string, details?: LogDetails): void => void this.entries.push({ level: 'error', message, details });
  warn = (message: string, details?: LogDetails): void => void this.entries.push({ level: 'warn', message, details });
  info = (message: string, details?: LogDetails): void => void this.entries.push({ level: 'info', message, details });
  debug = (message: string, details?: LogDetails): void => void this.entries.push({ level: 'debug', message, details });
  child = (): Logger => this;

  warnings(): string[] {
    return this.entries.filter((e) => e.level === 'warn').map((e) => e.message);
  }
}

/** A source context over a prepared host root that records events, statuses and log lines. */
export function recordingContext(def: SourceDefinition, hostRoot: string, overrides: Record<string, SettingValue> = {}) {
  const events: SecurityEvent[] = [];
  const statuses: SourceStatus[] = [];
  const log = new RecordingLogger();
  const ctx: SourceContext = {
    config: defaultConfigView(settingsCatalogue([def]), overrides),
    log,
    hostRoot,
    stateDir: hostRoot,
    emit: (e) => void events.push(e),
    setStatus: (s) => void statuses.push(s),
  };
  return { ctx, events, statuses, log };
}

let validator: ReturnType<typeof createSchemaValidator> | undefined;

export function assertValidEvents(events: readonly SecurityEvent[]): void {
  validator ??= createSchemaValidator(referenceSchemaDir());
  for (const e of events) {
    const r = validator.validateEvent(e);
    assert.equal(r.valid, true, `${e.Name}: ${r.errors.join('\n')}`);
  }
}
