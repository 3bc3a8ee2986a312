import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfigView } from '../src/config/defaults';
import type { SecurityEvent } from '../src/core/event';
import { getLogger } from '../src/core/logger';
import { firewallConfigurationSource } from '../src/sources/host/firewall-configuration';
import { localUsersSource } from '../src/sources/host/local-users';
import { loginSource, type LoginSource } from '../src/sources/host/login';
import { parseSshdLine } from '../src/sources/host/login/sshd-log';
import { osBaselineSource } from '../src/sources/host/os-baseline';
import type { SourceContext, SourceDefinition } from '../src/sources/source';
import { settingsCatalogue } from '../src/agent/catalogue';

function context(definition: SourceDefinition, hostRoot: string, stateDir: string, sink: SecurityEvent[], overrides = {}): SourceContext {
  return {
    config: defaultConfigView(settingsCatalogue([definition]), overrides),
    log: getLogger(`bench/${definition.name}`),
    hostRoot,
    stateDir,
    emit: (event) => sink.push(event),
    setStatus: () => undefined,
  };
}

function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function cpuMsAsync(fn: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function authLog(lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const t = `2026-11-23T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000000+00:00 gw`;
    if (i % 5 === 0) out.push(`${t} sshd[${1000 + i}]: Failed password for invalid user admin${i % 7} from 203.0.113.${i % 250} port ${30000 + (i % 30000)} ssh2`);
    else if (i % 5 === 1) out.push(`${t} sshd[${1000 + i}]: Received disconnect from 203.0.113.${i % 250} port ${30000 + (i % 30000)}:11: Bye Bye [preauth]`);
    else out.push(`${t} CRON[${2000 + i}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`);
  }
  return out.join('\n') + '\n';
}

/** Login log throughput against a bare read+split baseline, idle poll cost, and each snapshot's cost and size. */
export async function run(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-bench-host-'));
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-bench-state-'));
  try {
    const lines = 50_000;
    const text = authLog(lines);
    writeFileSync(path.join(root, 'auth.log'), '');
    const file = path.join(root, 'auth.log');

    // Baseline: read the same bytes and split them into lines, in the same run.
    writeFileSync(file, text);
    const baseline = median([0, 1, 2].map(() => cpuMs(() => void readFileSync(file, 'utf8').split('\n').length)));
    const parseOnly = median([0, 1, 2].map(() => cpuMs(() => readFileSync(file, 'utf8').split('\n').forEach((l) => parseSshdLine(l)))));
    writeFileSync(file, '');

    const events: SecurityEvent[] = [];
    const ctx = context(loginSource, root, stateDir, events, { loginPollInterval: 'PT1H', loginWtmpFile: '', loginBtmpFile: '', loginAuthLogFiles: ['/auth.log'] });
    const source = (await loginSource.start(ctx)) as LoginSource;
    appendFileSync(file, text);
    // 1 MiB per poll: poll until the backlog is gone.
    const pollMs = cpuMs(() => {
      for (let i = 0; i < 20; i++) source.poll();
    });
    const logins = events.reduce((n, e) => n + e.Payload.length, 0);
    const idle = cpuMs(() => {
      for (let i = 0; i < 200; i++) source.poll();
    });
    await source.stop();
    const bytes = Buffer.byteLength(text);
    console.log(`Login: ${lines} auth.log lines (${(bytes / 1e6).toFixed(1)} MB, ${logins} logins) in ${pollMs.toFixed(0)} ms CPU = ${((bytes / 1e6) / (pollMs / 1000)).toFixed(1)} MB/s`);
    console.log(`  baseline read+split ${baseline.toFixed(0)} ms, read+split+parse ${parseOnly.toFixed(0)} ms; source / baseline = ${(pollMs / baseline).toFixed(1)}x`);
    console.log(`  events ${events.length} (≤ 32 logins each), mean event JSON ${Math.round(events.reduce((n, e) => n + JSON.stringify(e).length, 0) / events.length)} bytes`);
    console.log(`  idle poll (nothing new, one file + cursor save): ${((idle / 200) * 1000).toFixed(0)} µs CPU per poll`);

    for (const definition of [localUsersSource, firewallConfigurationSource, osBaselineSource]) {
      const sink: SecurityEvent[] = [];
      const s = await definition.start(context(definition, '/', stateDir, sink));
      const times: number[] = [];
      for (let i = 0; i < 5; i++) times.push(await cpuMsAsync(async () => s.snapshot?.()));
      await s.stop();
      const last = sink.at(-1);
      const size = last ? JSON.stringify(last).length : 0;
      console.log(`${definition.name}: snapshot ${median(times).toFixed(1)} ms CPU in this process (median of 5; child processes not counted), ${last?.Payload.length ?? 0} items, ${size} bytes JSON`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
